package bindery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/bindery-dev/bindery/clients/go/binderyv1"
)

// devRegistry runs `bindery dev` ($BINDERY_BIN) on free ports in a temporary directory.
type devRegistry struct {
	address string
	data    string
	cmd     *exec.Cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startDev(t *testing.T) *devRegistry {
	t.Helper()
	bin := os.Getenv("BINDERY_BIN")
	if bin == "" {
		t.Skip("BINDERY_BIN is not set (clients/go/scripts/test.sh sets it)")
	}
	dir := t.TempDir()
	port := freePort(t)
	d := &devRegistry{address: fmt.Sprintf("127.0.0.1:%d", port), data: filepath.Join(dir, "data")}
	d.cmd = exec.Command(bin, "dev", "--data-dir", d.data, "--listen", d.address,
		"--artifact-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--metrics-listen", "off",
		"--mlflow-listen", "off", "--console-listen", "off")
	log, err := os.Create(filepath.Join(dir, "dev.log"))
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = log, log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		_ = d.cmd.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(filepath.Join(dir, "dev.log"))
			t.Logf("bindery dev log:\n%s", out)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.address, 500*time.Millisecond)
		if err == nil {
			c.Close()
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("bindery dev did not listen on %s", d.address)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// register puts bytes into the dev store's directory (as a job writing to S3 would) and
// registers them as a version.
func (d *devRegistry) register(ctx context.Context, t *testing.T, c *Conn, model, key string, body []byte) uint64 {
	t.Helper()
	path := filepath.Join(d.data, "artifacts", "dev", filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	out, err := c.Registry.RegisterVersion(ctx, &pb.RegisterVersionRequest{
		ModelName: model,
		RequestId: key,
		Artifact:  &pb.Artifact{Uri: "s3://dev/" + key, Sha256: hex.EncodeToString(sum[:]), SizeBytes: uint64(len(body))},
	})
	if err != nil {
		t.Fatalf("RegisterVersion: %v", err)
	}
	return out.GetVersion().GetVersion()
}

func TestResolveWatchAndRouteAgainstBinderyDev(t *testing.T) {
	d := startDev(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Dial("http://"+d.address, Options{Actor: "go-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Registry.CreateModel(ctx, &pb.CreateModelRequest{Name: "go/ranker"}); err != nil {
		t.Fatalf("CreateModel: %v", err)
	}
	v1 := d.register(ctx, t, c, "go/ranker", "go/ranker/1.bin", []byte("one"))
	v2 := d.register(ctx, t, c, "go/ranker", "go/ranker/2.bin", []byte("two"))
	bound, err := c.Registry.SetBinding(ctx, &pb.SetBindingRequest{ModelName: "go/ranker", Binding: "production", Version: v1})
	if err != nil {
		t.Fatalf("SetBinding: %v", err)
	}

	// The first address has nothing behind it: the resolver moves on to the live one.
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	r, err := NewResolver([]string{dead + "," + d.address}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Resolve(ctx, &pb.ResolveRequest{ModelName: "go/ranker", Binding: "production", MinRevision: bound.GetRevision()})
	if err != nil {
		t.Fatalf("Resolve through failover: %v", err)
	}
	if got.GetVersion() != v1 || got.GetArtifactUri() != "s3://dev/go/ranker/1.bin" {
		t.Fatalf("resolved %v", got)
	}
	if _, err := r.ResolveRef(ctx, "go/ranker@missing", ""); status.Code(err) != codes.NotFound {
		t.Fatalf("missing binding: %v, want NOT_FOUND", err)
	}

	// A watch sees the current state, then the split; local routing agrees with the server's.
	updates := make(chan Update, 8)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- r.Watch(wctx, &pb.WatchBindingsRequest{ModelNames: []string{"go/ranker"}}, func(u Update) error {
			updates <- u
			return nil
		})
	}()
	first := <-updates
	if !first.Reset || len(first.Bindings) != 1 || first.Bindings[0].GetVersion() != v1 {
		t.Fatalf("first update %+v", first)
	}
	split, err := c.Registry.SetBinding(ctx, &pb.SetBindingRequest{
		ModelName: "go/ranker", Binding: "production",
		Traffic: &pb.Traffic{Sides: []*pb.TrafficSide{{Version: v1, Weight: 9000}, {Version: v2, Weight: 1000}}},
	})
	if err != nil {
		t.Fatalf("split: %v", err)
	}
	var change Update
	select {
	case change = <-updates:
	case <-time.After(20 * time.Second):
		t.Fatal("no watch update for the split")
	}
	if change.Reset || change.Revision != split.GetRevision() || len(change.Bindings[0].GetSides()) != 2 {
		t.Fatalf("split update %+v", change)
	}
	sides := change.Bindings[0].GetSides()
	for i := 0; i < 40; i++ {
		key := fmt.Sprintf("user-%d", i)
		local, _ := Route("go/ranker", "production", key, sides, nil)
		served, err := r.ResolveRef(ctx, "go/ranker@production", key)
		if err != nil {
			t.Fatal(err)
		}
		if local == nil || local.GetVersion() != served.GetVersion() || served.GetBucket() != Bucket("go/ranker", "production", key) {
			t.Fatalf("key %s: local %v, served v%d bucket %d", key, local, served.GetVersion(), served.GetBucket())
		}
	}
	stop()
	if err := <-done; err != context.Canceled {
		t.Fatalf("watch ended with %v", err)
	}

	// The example sidecar, as built by scripts/test.sh, resolves the same binding.
	if example := os.Getenv("BINDERY_GO_SIDECAR"); example != "" {
		out, err := exec.CommandContext(ctx, example, "-readers", dead+","+d.address, "go/ranker@production").CombinedOutput()
		if err != nil {
			t.Fatalf("examples/sidecar: %v\n%s", err, out)
		}
		if want := "go/ranker@production -> v1 s3://dev/go/ranker/1.bin"; !strings.Contains(string(out), want) {
			t.Fatalf("examples/sidecar printed %q, want %q", out, want)
		}
	}
}
