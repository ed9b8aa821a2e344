// Command sidecar resolves model@binding through a set of read nodes and prints what to serve,
// then (with -watch) prints every change: the smallest Go serving sidecar.
//
//	BINDERY_TOKEN=bdy_... sidecar -readers reader-a:50052,reader-b:50052 fraud/detector@production
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/bindery-dev/bindery/clients/go/bindery"
	pb "github.com/bindery-dev/bindery/clients/go/binderyv1"
)

func main() {
	readers := flag.String("readers", envOr("BINDERY_READERS", "127.0.0.1:50051"), "read nodes, comma-separated")
	key := flag.String("routing-key", "", "routing key for a split (a user or session id)")
	watch := flag.Bool("watch", false, "keep following the binding")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: sidecar [-readers a,b] [-routing-key k] [-watch] model@binding")
		os.Exit(2)
	}
	model, binding, err := bindery.ParseRef(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	r, err := bindery.NewResolver([]string{*readers}, bindery.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer r.Close()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()

	answer, err := r.Resolve(ctx, &pb.ResolveRequest{ModelName: model, Binding: binding, RoutingKey: *key})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s@%s -> v%d %s sha256=%s (generation %d, revision %d)\n", model, binding,
		answer.GetVersion(), answer.GetArtifactUri(), answer.GetSha256(), answer.GetGeneration(), answer.GetRevision())
	if !*watch {
		return
	}
	err = r.Watch(ctx, &pb.WatchBindingsRequest{ModelNames: []string{model}, Bindings: []string{binding}, SinceRevision: answer.GetRevision()},
		func(u bindery.Update) error {
			for _, b := range u.Bindings {
				if b.GetDeleted() {
					fmt.Printf("%s@%s deleted (revision %d)\n", model, binding, u.Revision)
				} else {
					fmt.Printf("%s@%s -> v%d %s (revision %d)\n", model, binding, b.GetVersion(), b.GetArtifactUri(), u.Revision)
				}
			}
			return nil
		})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
