package bindery

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// codec marshals with google.golang.org/protobuf (the API the generated stubs use). grpc-go
// before 1.35 marshals through github.com/golang/protobuf, and Debian's build of that package
// (1.3.5) predates the messages protoc-gen-go 1.20+ generates; forcing this codec on the
// connection makes the client work with either.
type codec struct{}

func (codec) Marshal(v interface{}) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("bindery codec: %T is not a protobuf message", v)
	}
	return proto.Marshal(m)
}

func (codec) Unmarshal(data []byte, v interface{}) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("bindery codec: %T is not a protobuf message", v)
	}
	return proto.Unmarshal(data, m)
}

func (codec) Name() string { return "proto" }
