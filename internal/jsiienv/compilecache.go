package jsiienv

// Only syscall and embed (see the package comment): strings and strconv
// would let os, and with it the CDK, initialise first.
import (
	_ "embed"
	"syscall"
)

// CompileCacheVariable turns the kernel's code cache off when set to "off".
const CompileCacheVariable = "IPFS_CLUSTER_AWS_COMPILE_CACHE"

// jsiiNodeOptions is what jsii gives the kernel when NODE_OPTIONS is unset;
// any NODE_OPTIONS replaces it, so ours starts from it.
const jsiiNodeOptions = "--max-old-space-size=4069"

//go:embed compilecache.cjs
var hookSource string

// CompileCacheDir is where the hook and the caches live: the user's cache
// directory, like jsii's own package cache. Empty when there is none.
func CompileCacheDir() string {
	base, _ := syscall.Getenv("XDG_CACHE_HOME")
	if !absolute(base) {
		home, _ := syscall.Getenv("HOME")
		if !absolute(home) {
			return ""
		}
		base = home + "/.cache"
	}
	return base + "/ipfs-cluster-aws/node-compile-cache"
}

// enableCompileCache writes the hook (once per content) and adds
// `--require <hook>` to NODE_OPTIONS. Any failure leaves the environment as
// it was: the cache only saves time.
func enableCompileCache() {
	if v, _ := syscall.Getenv(CompileCacheVariable); v == "off" {
		return
	}
	dir := CompileCacheDir()
	// Node's NODE_OPTIONS parser takes a double-quoted path, but no quote
	// or backslash inside it.
	if dir == "" || hasQuoteOrBackslash(dir) {
		return
	}
	hook := dir + "/hook-" + hex(fnv64(hookSource)) + ".cjs"
	if err := writeOnce(dir, hook, hookSource); err != nil {
		return
	}
	options, set := syscall.Getenv("NODE_OPTIONS")
	if !set {
		options = jsiiNodeOptions
	}
	if options != "" {
		options += " "
	}
	syscall.Setenv("NODE_OPTIONS", options+`--require "`+hook+`"`)
}

// writeOnce creates file with content unless it exists: its name carries
// the content's hash. Written beside and renamed, so a concurrent reader
// never sees part of it.
func writeOnce(dir, file, content string) error {
	var st syscall.Stat_t
	if syscall.Stat(file, &st) == nil {
		return nil
	}
	if err := mkdirAll(dir); err != nil {
		return err
	}
	tmp := file + "." + hex(uint64(syscall.Getpid())) + ".tmp"
	fd, err := syscall.Open(tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	data := []byte(content)
	for len(data) > 0 && err == nil {
		var n int
		n, err = syscall.Write(fd, data)
		data = data[n:]
	}
	if cerr := syscall.Close(fd); err == nil {
		err = cerr
	}
	if err == nil {
		err = syscall.Rename(tmp, file)
	}
	if err != nil {
		syscall.Unlink(tmp)
	}
	return err
}

func mkdirAll(dir string) error {
	for i := 1; i <= len(dir); i++ {
		if i == len(dir) || dir[i] == '/' {
			if err := syscall.Mkdir(dir[:i], 0o755); err != nil && err != syscall.EEXIST {
				return err
			}
		}
	}
	return nil
}

// fnv64 is FNV-1a (hash/fnv would pull in more packages before the CDK).
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func absolute(path string) bool { return len(path) > 0 && path[0] == '/' }

func hasQuoteOrBackslash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			return true
		}
	}
	return false
}

func hex(v uint64) string {
	const digits = "0123456789abcdef"
	out := []byte{}
	for {
		out = append([]byte{digits[v&15]}, out...)
		v >>= 4
		if v == 0 {
			return string(out)
		}
	}
}
