package localcluster

import (
	"bufio"
	"encoding/binary"
	"io"
	"math/rand/v2"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// pinBlockSize is the size of each benchmark block: small, so that the
// figures are the pin machinery's and not the bytes'.
const pinBlockSize = 256

// pinBlock is one raw block of the pin benchmark.
type pinBlock struct {
	CID  cid.Cid
	Data []byte
}

// newPinBlocks generates n distinct random raw blocks (CIDv1, sha2-256).
func newPinBlocks(n int) ([]pinBlock, error) {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	r := rand.NewChaCha8(seed)
	out := make([]pinBlock, n)
	for i := range out {
		b := make([]byte, pinBlockSize)
		_, _ = r.Read(b)
		h, err := multihash.Sum(b, multihash.SHA2_256, -1)
		if err != nil {
			return nil, err
		}
		out[i] = pinBlock{CID: cid.NewCidV1(cid.Raw, h), Data: b}
	}
	return out, nil
}

// writeCAR writes blocks as a CARv1 file whose root is the first block
// (`ipfs dag import --pin-roots=false` pins nothing).
func writeCAR(w io.Writer, blocks []pinBlock) error {
	bw := bufio.NewWriter(w)
	root := blocks[0].CID.Bytes()
	// The header, DAG-CBOR {"roots": [CID], "version": 1}: a map of two,
	// each key a text string; a CID is tag 42 over its bytes with a
	// leading 0x00 (the identity multibase).
	var h []byte
	h = append(h, 0xa2)
	h = append(h, 0x65)
	h = append(h, "roots"...)
	h = append(h, 0x81, 0xd8, 0x2a)
	h = cborBytesHeader(h, len(root)+1)
	h = append(h, 0x00)
	h = append(h, root...)
	h = append(h, 0x67)
	h = append(h, "version"...)
	h = append(h, 0x01)
	section := func(parts ...[]byte) error {
		n := 0
		for _, p := range parts {
			n += len(p)
		}
		if _, err := bw.Write(binary.AppendUvarint(nil, uint64(n))); err != nil {
			return err
		}
		for _, p := range parts {
			if _, err := bw.Write(p); err != nil {
				return err
			}
		}
		return nil
	}
	if err := section(h); err != nil {
		return err
	}
	for _, b := range blocks {
		if err := section(b.CID.Bytes(), b.Data); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// cborBytesHeader appends the CBOR head of a byte string of length n.
func cborBytesHeader(b []byte, n int) []byte {
	switch {
	case n < 24:
		return append(b, 0x40|byte(n))
	case n < 256:
		return append(b, 0x58, byte(n))
	default:
		return append(b, 0x59, byte(n>>8), byte(n))
	}
}
