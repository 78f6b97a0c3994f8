package api

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/store"
)

// applyFilter reads config.filter (absent keeps it, null or {} removes it)
// and checks the webhook's filter against the schemas of the events it
// subscribes to, whenever either changes: every path must be declared by
// at least one of them, hold a value there (not only an object or an
// array), and each listed value must be of a type some of them allows.
func (s *server) applyFilter(in *webhookInput, h *store.Webhook) *apiError {
	changed := in.Events != nil
	if in.Config != nil && len(in.Config.Filter) > 0 {
		changed = true
		h.Config.Filter = nil
		if !isNull(in.Config.Filter) {
			f, err := filter.Parse(in.Config.Filter)
			if err != nil {
				return filterError(err)
			}
			if !f.Empty() {
				h.Config.Filter = f
			}
		}
	}
	if !changed || h.Config.Filter == nil {
		return nil
	}
	events := h.Events
	if slices.Contains(events, catalog.Wildcard) {
		events = nil
		for _, t := range s.Catalog.Types() {
			events = append(events, t.Name)
		}
	}
	f := h.Config.Filter
	for _, path := range f.Paths() {
		field := "config.filter." + path
		var declared []catalog.PathInfo
		var names []string
		for _, e := range events {
			if info := s.Catalog.Path(e, catalog.Segments(path)); info.Declared {
				declared, names = append(declared, info), append(names, e)
			}
		}
		if len(declared) == 0 {
			return invalid(field, "no subscribed event has %s (the webhook subscribes to %s)", path, strings.Join(h.Events, ", "))
		}
		if !slices.ContainsFunc(declared, catalog.PathInfo.Scalar) {
			return invalid(field, "%s holds an object or an array in %s: a filter matches strings, numbers, booleans and null", path, strings.Join(names, ", "))
		}
		for i, v := range f.Values(path) {
			kind := filter.Kind(v)
			if !slices.ContainsFunc(declared, func(p catalog.PathInfo) bool { return p.Allows(kind) }) {
				return invalid(field+"["+strconv.Itoa(i)+"]", "%s is a %s, but %s never holds one at %s, so it never matches", v, kind, strings.Join(names, ", "), path)
			}
		}
	}
	return nil
}

// filterError names the member of config.filter that Parse refused.
func filterError(err error) *apiError {
	var fe *filter.Error
	if !errors.As(err, &fe) {
		return invalid("config.filter", "%v", err)
	}
	field := "config.filter"
	if fe.Path != "" {
		field += "." + fe.Path
		if fe.Index >= 0 {
			field += "[" + strconv.Itoa(fe.Index) + "]"
		}
	}
	return invalid(field, "%s", fe.Message)
}
