package store

import "time"

// Source types: the brokers Herald consumes events from.
const (
	SourceRabbitMQ = "rabbitmq"
	SourceNATS     = "nats"
)

// Source statuses an admin may set.
const (
	SourceActive = "ACTIVE"
	SourcePaused = "PAUSED"
)

// Source is a broker queue (or stream) Herald consumes events from, each
// message published for Tenant as POST /events would publish it. URL may
// hold credentials: it is sealed at rest like a webhook's secrets.
type Source struct {
	ID       string
	TenantID string
	Type     string
	URL      string
	// Queue is the RabbitMQ queue; Stream, Subject (a filter, "" for every
	// subject of the stream) and Durable (the consumer every replica
	// shares) are NATS JetStream's.
	Queue   string
	Stream  string
	Subject string
	Durable string
	Status  string
	// Rejected counts the messages ever rejected, across replicas (the
	// rejected list keeps only the newest).
	Rejected int64
	Created  time.Time
	Modified time.Time
}

// RejectedMessage is a broker message refused as invalid (not an event of
// the catalogue, a message id reused with another body, ...), kept so that
// an admin can see what was dead-lettered and why.
type RejectedMessage struct {
	ID        string
	SourceID  string
	MessageID string
	Error     string
	// Field is the JSON path of the offending member ("" for the whole
	// message).
	Field string
	// Payload is the start of the message (valid UTF-8); Size is its full
	// length in bytes.
	Payload  string
	Size     int
	Received time.Time
}
