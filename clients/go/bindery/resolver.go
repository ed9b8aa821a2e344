package bindery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/bindery-dev/bindery/clients/go/binderyv1"
)

// Resolver resolves through several read nodes: calls go to the node that last answered and
// move to the next one when a node is UNAVAILABLE (down, restarting, or behind min_revision),
// with backoff, up to Retries extra attempts.
type Resolver struct {
	// Retries after the first attempt (default 4 from NewResolver).
	Retries int
	conns   []*Conn
	mu      sync.Mutex
	current int
}

// NewResolver connects to every address (a list, or one comma-separated string per element).
func NewResolver(addresses []string, opts Options) (*Resolver, error) {
	var list []string
	for _, a := range addresses {
		for _, part := range strings.Split(a, ",") {
			if p := strings.TrimSpace(part); p != "" {
				list = append(list, p)
			}
		}
	}
	if len(list) == 0 {
		return nil, errors.New("at least one read node address is needed")
	}
	r := &Resolver{Retries: 4}
	for _, a := range list {
		c, err := Dial(a, opts)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.conns = append(r.conns, c)
	}
	return r, nil
}

// Close closes every connection.
func (r *Resolver) Close() {
	for _, c := range r.conns {
		_ = c.Close()
	}
}

func (r *Resolver) pick() *Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns[r.current]
}

func (r *Resolver) failOver(failed *Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns[r.current] == failed {
		r.current = (r.current + 1) % len(r.conns)
	}
}

// do runs call against the current node, failing over on UNAVAILABLE.
func (r *Resolver) do(ctx context.Context, call func(*Conn) error) error {
	for attempt := 0; ; attempt++ {
		c := r.pick()
		err := call(c)
		if err == nil || status.Code(err) != codes.Unavailable || attempt >= r.Retries {
			return err
		}
		r.failOver(c)
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-time.After(backoff(attempt)):
		}
	}
}

// Resolve answers which artifact a binding serves.
func (r *Resolver) Resolve(ctx context.Context, req *pb.ResolveRequest) (*pb.ResolveResponse, error) {
	var out *pb.ResolveResponse
	err := r.do(ctx, func(c *Conn) error {
		var err error
		out, err = c.Resolver.Resolve(ctx, req)
		return err
	})
	return out, err
}

// ResolveRef resolves `model@binding`, with an optional routing key (empty: none).
func (r *Resolver) ResolveRef(ctx context.Context, ref, routingKey string) (*pb.ResolveResponse, error) {
	model, binding, err := ParseRef(ref)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return r.Resolve(ctx, &pb.ResolveRequest{ModelName: model, Binding: binding, RoutingKey: routingKey})
}

// Status reports how current the answering node is.
func (r *Resolver) Status(ctx context.Context) (*pb.ReaderStatus, error) {
	var out *pb.ReaderStatus
	err := r.do(ctx, func(c *Conn) error {
		var err error
		out, err = c.Resolver.GetReaderStatus(ctx, &pb.GetReaderStatusRequest{})
		return err
	})
	return out, err
}

// Update is one step of a watch: with Reset, Bindings is the whole state of what is watched;
// otherwise the changes made at Revision (deleted bindings have Deleted set).
type Update struct {
	Revision uint64
	Reset    bool
	Bindings []*pb.BindingState
}

// Watch follows bindings and calls fn with every update until ctx ends or fn returns an error.
// After a disconnect it reconnects (to the next read node) with backoff and resumes after the
// last revision it delivered; a reset that arrives in parts is delivered as one update.
func (r *Resolver) Watch(ctx context.Context, req *pb.WatchBindingsRequest, fn func(Update) error) error {
	since := req.GetSinceRevision()
	for attempt := 0; ; {
		c := r.pick()
		err := r.watchOnce(ctx, c, req, &since, fn, &attempt)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var stop stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		switch status.Code(err) {
		case codes.Unavailable, codes.Unknown, codes.Internal, codes.Canceled, codes.ResourceExhausted,
			codes.DeadlineExceeded, codes.Aborted, codes.OK:
		default:
			return err
		}
		r.failOver(c)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff(attempt)):
		}
		attempt++
	}
}

type stopError struct{ err error }

func (s stopError) Error() string { return fmt.Sprintf("watch callback: %v", s.err) }

func (r *Resolver) watchOnce(
	ctx context.Context, c *Conn, req *pb.WatchBindingsRequest, since *uint64, fn func(Update) error, attempt *int,
) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Resolver.WatchBindings(ctx, &pb.WatchBindingsRequest{
		ModelNames: req.GetModelNames(), Bindings: req.GetBindings(), SinceRevision: *since,
	})
	if err != nil {
		return err
	}
	var pending []*pb.BindingState
	assembling := false
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return status.Error(codes.Unavailable, "the read node ended the watch")
		}
		if err != nil {
			return err
		}
		switch {
		case msg.GetReset_():
			pending, assembling = append([]*pb.BindingState(nil), msg.GetBindings()...), true
		case assembling:
			pending = append(pending, msg.GetBindings()...)
		default:
			pending = msg.GetBindings()
		}
		if msg.GetContinues() {
			continue
		}
		update := Update{Revision: msg.GetRevision(), Reset: assembling, Bindings: pending}
		pending, assembling = nil, false
		if err := fn(update); err != nil {
			return stopError{err}
		}
		*since = update.Revision
		*attempt = 0
	}
}
