// Package bindery is the Go client of the Bindery model registry: a connection with token and
// TLS, a resolver that fails over across several read nodes, and the routing rule of
// docs/routing.md. The generated stubs are in package binderyv1.
package bindery

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/bindery-dev/bindery/clients/go/binderyv1"
)

// MaxMessageBytes is the largest message the client accepts (the server's default limit is 4 MiB).
const MaxMessageBytes = 64 << 20

// Options configure a connection. The zero value talks plaintext without a token, except that
// Dial reads $BINDERY_TOKEN when Token is empty.
type Options struct {
	// Token is sent as `authorization: Bearer <token>` on every call.
	Token string
	// TLS turns TLS on with this configuration (nil: plaintext, unless the address is https://).
	TLS *tls.Config
	// Actor names the caller in the audit log of a registry running without authentication.
	Actor string
}

// Conn is one server (a primary, a read node or `bindery dev`) with its stubs.
type Conn struct {
	Address  string
	Registry pb.RegistryServiceClient
	Resolver pb.ResolverServiceClient
	cc       *grpc.ClientConn
}

// ParseAddress turns `host:port`, `http://host:port` or `https://host:port` into a dial target
// and whether the scheme asks for TLS.
func ParseAddress(address string) (target string, tlsByScheme bool, err error) {
	a := strings.TrimSpace(address)
	switch {
	case strings.HasPrefix(a, "https://"):
		a, tlsByScheme = strings.TrimPrefix(a, "https://"), true
	case strings.HasPrefix(a, "http://"):
		a = strings.TrimPrefix(a, "http://")
	}
	a = strings.TrimSuffix(a, "/")
	if a == "" || strings.Contains(a, "/") {
		return "", false, fmt.Errorf("registry address must be host:port, got %q", address)
	}
	return a, tlsByScheme, nil
}

// Dial connects to one server. It does not wait for the connection: the first call does.
func Dial(address string, opts Options) (*Conn, error) {
	target, tlsByScheme, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	if opts.Token == "" {
		opts.Token = strings.TrimSpace(os.Getenv("BINDERY_TOKEN"))
	}
	dialOpts := []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.ForceCodec(codec{})),
		grpc.WithUserAgent("bindery-go/0.1"),
	}
	switch {
	case opts.TLS != nil:
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(credentials.NewTLS(opts.TLS)))
	case tlsByScheme:
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})))
	default:
		dialOpts = append(dialOpts, grpc.WithInsecure())
	}
	if opts.Token != "" || opts.Actor != "" {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(callCredentials{token: opts.Token, actor: opts.Actor}))
	}
	cc, err := grpc.Dial(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", address, err)
	}
	return &Conn{
		Address:  address,
		Registry: pb.NewRegistryServiceClient(cc),
		Resolver: pb.NewResolverServiceClient(cc),
		cc:       cc,
	}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.cc.Close() }

// callCredentials sends the token (and actor) on every call. They are allowed on plaintext
// connections too, since `bindery dev` and in-cluster sidecars often run without TLS.
type callCredentials struct {
	token string
	actor string
}

func (c callCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	md := map[string]string{}
	if c.token != "" {
		md["authorization"] = "Bearer " + c.token
	}
	if c.actor != "" {
		md["x-bindery-actor"] = c.actor
	}
	return md, nil
}

func (callCredentials) RequireTransportSecurity() bool { return false }

// ParseRef splits `model@binding`.
func ParseRef(ref string) (model, binding string, err error) {
	i := strings.LastIndex(ref, "@")
	if i <= 0 || i == len(ref)-1 {
		return "", "", fmt.Errorf("expected model@binding, got %q", ref)
	}
	return ref[:i], ref[i+1:], nil
}

// backoff is capped exponential backoff: 50 ms, 100 ms, ... up to 2 s.
func backoff(attempt int) time.Duration {
	d := 50 * time.Millisecond << uint(attempt)
	if d > 2*time.Second || d <= 0 {
		d = 2 * time.Second
	}
	return d
}
