// gohot: a Go program with two hot paths, which profiles itself with Go's
// own runtime/pprof for its whole run and writes that profile to PROFILE:
// the independent reference for a profiler sampling the same process.
// hashLoop spends its time in crypto/sha256's assembly, which uses BP as a
// data register (a frame-pointer walk from it loses its callers) and which
// Go describes only in .debug_frame; mixLoop is plain Go. Each is called
// from main through its own path, so their inclusive shares are the split.
// Usage: gohot SECONDS PROFILE
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"time"
)

//go:noinline
func hashLoop(data []byte, rounds int) byte {
	for i := 0; i < rounds; i++ {
		sum := sha256.Sum256(data)
		data[i%len(data)] ^= sum[0]
	}
	return data[0]
}

//go:noinline
func mixLoop(rounds int) uint64 {
	x := uint64(rounds) | 1
	for i := 0; i < rounds; i++ {
		x = x*6364136223846793005 + uint64(i)
		x ^= x >> 29
	}
	return x
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gohot SECONDS PROFILE")
		os.Exit(2)
	}
	seconds, err := strconv.ParseFloat(os.Args[1], 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out, err := os.Create(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	data := make([]byte, 4096)
	var hashed, mixed time.Duration
	var sink uint64
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	for time.Now().Before(deadline) {
		start := time.Now()
		sink += uint64(hashLoop(data, 12))
		middle := time.Now()
		sink += mixLoop(30000)
		hashed += middle.Sub(start)
		mixed += time.Since(middle)
	}
	pprof.StopCPUProfile()
	out.Close()
	fmt.Printf("{\"hash_seconds\": %.3f, \"mix_seconds\": %.3f, \"sink\": %d}\n", hashed.Seconds(), mixed.Seconds(), sink%10)
}
