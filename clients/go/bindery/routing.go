package bindery

import (
	"crypto/sha256"
	"encoding/binary"

	pb "github.com/bindery-dev/bindery/clients/go/binderyv1"
)

// Buckets is the number of routing buckets.
const Buckets = 10000

// Bucket is the routing bucket (0..9999) of routingKey on model@binding (docs/routing.md): the
// first 8 bytes of SHA-256(model, 0, binding, 0, key), big-endian, mod 10000.
func Bucket(model, binding, routingKey string) uint32 {
	h := sha256.New()
	h.Write([]byte(model))
	h.Write([]byte{0})
	h.Write([]byte(binding))
	h.Write([]byte{0})
	h.Write([]byte(routingKey))
	sum := h.Sum(nil)
	return uint32(binary.BigEndian.Uint64(sum[:8]) % Buckets)
}

// Route applies a split locally: the side routingKey lands on (nil if no side's ranges hold its
// bucket, which a well-formed split never has) and the shadows it is mirrored to.
func Route(model, binding, routingKey string, sides, shadows []*pb.ResolvedMember) (*pb.ResolvedMember, []*pb.ResolvedMember) {
	b := Bucket(model, binding, routingKey)
	var side *pb.ResolvedMember
	for _, s := range sides {
		for _, r := range s.GetBuckets() {
			if r.GetStart() <= b && b < r.GetEnd() {
				side = s
			}
		}
	}
	var mirrored []*pb.ResolvedMember
	for _, s := range shadows {
		if b < s.GetMirror() {
			mirrored = append(mirrored, s)
		}
	}
	return side, mirrored
}
