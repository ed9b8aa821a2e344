package bindery

import "testing"

// The test vectors of docs/routing.md.
func TestBucketMatchesTheDocumentedVectors(t *testing.T) {
	vectors := []struct {
		model, binding, key string
		bucket              uint32
	}{
		{"fraud/detector", "production", "user-1", 5781},
		{"fraud/detector", "production", "user-2", 530},
		{"fraud/detector", "production", "", 4870},
		{"fraud/detector", "staging", "user-1", 5156},
		{"ranker", "champion", "session:9f86d081", 8647},
		{"ranker", "champion", "ünïcödé", 6406},
	}
	for _, v := range vectors {
		if got := Bucket(v.model, v.binding, v.key); got != v.bucket {
			t.Errorf("Bucket(%q, %q, %q) = %d, want %d", v.model, v.binding, v.key, got, v.bucket)
		}
	}
}

func TestParseRefAndAddress(t *testing.T) {
	m, b, err := ParseRef("fraud/detector@production")
	if err != nil || m != "fraud/detector" || b != "production" {
		t.Fatalf("ParseRef: %q %q %v", m, b, err)
	}
	for _, bad := range []string{"fraud", "@production", "fraud@"} {
		if _, _, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
	target, tls, err := ParseAddress("https://registry.example.com:443/")
	if err != nil || target != "registry.example.com:443" || !tls {
		t.Fatalf("ParseAddress: %q %v %v", target, tls, err)
	}
	if _, _, err := ParseAddress("http://host:1/path"); err == nil {
		t.Error("an address with a path was accepted")
	}
}
