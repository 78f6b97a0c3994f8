package api

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// splitBatch reads the body of POST /events:batch, {"events": [e1, e2, ...]},
// and returns each event's raw bytes without decoding them: every event is
// checked in full by the catalogue afterwards, so this only has to find
// where each one starts and ends (strings and nesting aware). It is much
// cheaper than decoding into []json.RawMessage, which scans every byte twice.
// Each event is held to the size limit of POST /events, so a batch cannot
// smuggle in an event that endpoint would refuse.
func splitBatch(body []byte) ([][]byte, *apiError) {
	s := splitter{b: body}
	s.space()
	if !s.eat('{') {
		return nil, invalid("", "request body must be an object")
	}
	var events [][]byte
	seen := false
	s.space()
	if s.eat('}') {
		return nil, invalid("events", "is required")
	}
	for {
		s.space()
		if s.i >= len(body) {
			return nil, invalid("", "request body is not valid JSON: it ends early")
		}
		key, ok := s.str()
		if !ok {
			return nil, invalid("", "request body is not valid JSON")
		}
		var name string
		if err := json.Unmarshal(key, &name); err != nil {
			return nil, invalid("", "request body is not valid JSON")
		}
		s.space()
		if !s.eat(':') {
			return nil, invalid("", "request body is not valid JSON")
		}
		s.space()
		if name != "events" {
			return nil, invalid(name, "unknown field")
		}
		if seen {
			return nil, invalid("events", "is given twice")
		}
		seen = true
		if !s.eat('[') {
			return nil, invalid("events", "must be an array")
		}
		s.space()
		if !s.eat(']') {
			for {
				s.space()
				start := s.i
				if start >= len(body) {
					return nil, invalid("", "request body is not valid JSON: it ends early")
				}
				if !s.value() {
					return nil, invalid("events["+strconv.Itoa(len(events))+"]", "is not valid JSON")
				}
				if s.i-start > maxBody {
					return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge,
						Field:   "events[" + strconv.Itoa(len(events)) + "]",
						Message: "an event is larger than " + itoa(maxBody) + " bytes, the limit of POST /events"}
				}
				events = append(events, body[start:s.i])
				if len(events) > maxBatch {
					return nil, invalid("events", "holds more than %d events", maxBatch)
				}
				s.space()
				if s.eat(']') {
					break
				}
				if !s.eat(',') {
					return nil, invalid("events", "is not a valid JSON array")
				}
			}
		}
		s.space()
		if s.eat('}') {
			break
		}
		if !s.eat(',') {
			return nil, invalid("", "request body is not valid JSON")
		}
	}
	s.space()
	if s.i != len(body) {
		return nil, invalid("", "request body must hold one JSON value")
	}
	return events, nil
}

// splitter finds the ends of JSON values; it does not check their contents.
type splitter struct {
	b []byte
	i int
}

func (s *splitter) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *splitter) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str skips a string and returns it with its quotes.
func (s *splitter) str() ([]byte, bool) {
	start := s.i
	if !s.eat('"') {
		return nil, false
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return s.b[start:s.i], true
		default:
			s.i++
		}
	}
	return nil, false
}

// value skips one value: a string, or anything up to the comma, bracket or
// brace that ends it at this depth.
func (s *splitter) value() bool {
	if s.i >= len(s.b) {
		return false
	}
	depth := 0
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '"':
			if _, ok := s.str(); !ok {
				return false
			}
			if depth == 0 {
				return true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return s.i > start
			}
			depth--
			if depth == 0 {
				s.i++
				return true
			}
		case ',':
			if depth == 0 {
				return s.i > start
			}
		}
		s.i++
	}
	return depth == 0 && s.i > start
}
