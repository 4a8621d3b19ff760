// Package mnist classifies 28×28 handwritten digits with minitensor's MNIST
// model (Dense 784→128 ReLU, Dense 128→10, the Keras model of
// examples/mnist), compiled to WebAssembly and run by wazero: pure Go, no
// cgo, no files — the model and its weights are embedded in the package.
//
//	digit, probs, err := mnist.Classify(pixels) // 784 bytes, 28×28
//
// Pixels are row-major bytes, 0 = background, 255 = ink (a white digit on
// black, as in MNIST). A Classifier is safe for concurrent use: it keeps a
// pool of WebAssembly instances, one per call in flight (each instance is
// single-threaded), up to a limit (runtime.GOMAXPROCS by default).
//
// The embedded minitensor-mnist.wasm is built from the C sources by
// `ninja -C BUILD update-wasm-bindings` (see docs/wasm.md); the test suite
// of the repository checks that it is up to date.
package mnist

import (
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

const (
	// ImageSize is the number of pixels (bytes) of one image: 28×28.
	ImageSize = 784
	// Classes is the number of classes: the digits 0…9.
	Classes = 10

	// MaxInstances is the largest Options.MaxInstances New accepts: each
	// instance holds at least 1.3 MB, so this many hold 5 GB.
	MaxInstances = 4096

	abiVersion = 1
	maxChunk   = 1024 // images per call into an instance
)

//go:embed minitensor-mnist.wasm
var wasmModule []byte

// ErrInputSize is wrapped by the errors about a wrong number of pixels.
var ErrInputSize = errors.New("wrong input size")

// ErrClosed is returned by calls on a closed Classifier, and on a nil or
// zero Classifier (one not made by New).
var ErrClosed = errors.New("mnist: classifier is closed")

// ErrOptions is wrapped by New's errors about invalid Options.
var ErrOptions = errors.New("invalid options")

// Result is one image's classification.
type Result struct {
	Digit  int              // argmax of Logits (the first maximum)
	Probs  [Classes]float32 // softmax(Logits): sums to 1
	Logits [Classes]float32 // the model's raw outputs (Keras' Dense(10))
}

// Options for New. The zero value means the defaults.
type Options struct {
	// MaxInstances bounds the WebAssembly instances (and so the calls that
	// run at once); each holds 1.3 MB of memory, up to 2.4 MB after large
	// batches (which run in chunks of 1024 images). Default:
	// runtime.GOMAXPROCS(0); at most the package's MaxInstances (a larger
	// value is an error wrapping ErrOptions). Calls beyond it wait for a
	// free instance.
	MaxInstances int
	// Interpreter runs the module in wazero's interpreter instead of
	// compiling it to machine code (much slower; for platforms the
	// compiler does not support, where wazero picks it anyway).
	Interpreter bool
}

// Classifier runs the embedded model. Create it with New and Close it when
// done; all methods are safe for concurrent use.
type Classifier struct {
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	idle     chan *instance // instances not in use
	slots    chan struct{}  // one token per instance that may still be created
	version  string
	backend  string

	closeOnce sync.Once
	mu        sync.RWMutex // held (read) by calls, (write) by Close
	closed    bool
}

// New compiles the embedded module (a few tens of ms) and checks that it
// instantiates; instances are then created on demand.
func New(ctx context.Context, opts *Options) (*Classifier, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = min(runtime.GOMAXPROCS(0), MaxInstances)
	}
	// The pool's channels are sized by it: a huge value would be a fatal
	// out-of-memory in make, not an error.
	if o.MaxInstances > MaxInstances {
		return nil, fmt.Errorf("mnist: Options.MaxInstances = %d, at most %d: %w",
			o.MaxInstances, MaxInstances, ErrOptions)
	}
	cfg := wazero.NewRuntimeConfig()
	if o.Interpreter {
		cfg = wazero.NewRuntimeConfigInterpreter()
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	compiled, err := r.CompileModule(ctx, wasmModule)
	if err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("mnist: compiling the embedded module: %w", err)
	}
	if imports := compiled.ImportedFunctions(); len(imports) > 0 {
		r.Close(ctx)
		return nil, fmt.Errorf("mnist: the embedded module imports %d functions, expected none", len(imports))
	}
	c := &Classifier{
		runtime:  r,
		compiled: compiled,
		idle:     make(chan *instance, o.MaxInstances),
		slots:    make(chan struct{}, o.MaxInstances),
	}
	for i := 0; i < o.MaxInstances; i++ {
		c.slots <- struct{}{}
	}
	// The first instance: fails early if the module is unusable, and gives
	// the version strings.
	<-c.slots
	in, err := c.newInstance(ctx)
	if err != nil {
		r.Close(ctx)
		return nil, err
	}
	c.version = in.cString(in.call0(in.version))
	c.backend = in.cString(in.call0(in.backend))
	c.idle <- in
	return c, nil
}

// Version is the minitensor version the module was built from, e.g. "0.1.0".
func (c *Classifier) Version() string {
	if c == nil {
		return ""
	}
	return c.version
}

// Backend names the matmul kernel inside the module, e.g.
// "native wasm-simd128 4x8".
func (c *Classifier) Backend() string {
	if c == nil {
		return ""
	}
	return c.backend
}

// Classify one image of ImageSize bytes: the digit and the probability of
// each class.
func (c *Classifier) Classify(pixels []byte) (digit int, probs [Classes]float32, err error) {
	return c.ClassifyContext(context.Background(), pixels)
}

// ClassifyContext is Classify that gives up when ctx is done while it
// waits for a free instance (all MaxInstances busy); the error then wraps
// ctx.Err(). A call already running is not interrupted (it takes
// microseconds).
func (c *Classifier) ClassifyContext(ctx context.Context, pixels []byte) (digit int, probs [Classes]float32, err error) {
	if len(pixels) != ImageSize {
		return 0, probs, fmt.Errorf("mnist: Classify wants %d pixels (28×28), got %d: %w",
			ImageSize, len(pixels), ErrInputSize)
	}
	var r [1]Result
	if err := c.run(ctx, pixels, r[:]); err != nil {
		return 0, probs, err
	}
	return r[0].Digit, r[0].Probs, nil
}

// ClassifyBatch classifies len(images)/ImageSize images stored one after
// the other (n×784 bytes). Large batches are much cheaper per image than
// single calls.
func (c *Classifier) ClassifyBatch(images []byte) ([]Result, error) {
	return c.ClassifyBatchContext(context.Background(), images)
}

// ClassifyBatchContext is ClassifyBatch that gives up when ctx is done:
// while it waits for a free instance, or between chunks of 1024 images
// (about a millisecond each). It then returns no results and an error
// wrapping ctx.Err().
func (c *Classifier) ClassifyBatchContext(ctx context.Context, images []byte) ([]Result, error) {
	if len(images)%ImageSize != 0 {
		return nil, fmt.Errorf("mnist: ClassifyBatch wants a multiple of %d pixels (n×28×28), got %d: %w",
			ImageSize, len(images), ErrInputSize)
	}
	results := make([]Result, len(images)/ImageSize)
	if err := c.run(ctx, images, results); err != nil {
		return nil, err
	}
	return results, nil
}

// Close releases every instance and the compiled module. Calls in flight
// finish first; later calls return ErrClosed.
func (c *Classifier) Close(ctx context.Context) error {
	if c == nil || c.runtime == nil {
		return nil
	}
	var err error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		err = c.runtime.Close(ctx) // closes every instance too
	})
	return err
}

// run classifies len(out) images on an instance from the pool.
func (c *Classifier) run(ctx context.Context, images []byte, out []Result) error {
	// A nil or zero Classifier has no pool: acquire would wait forever.
	if c == nil || c.runtime == nil {
		return fmt.Errorf("mnist: Classifier not created by New: %w", ErrClosed)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	in, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	// In chunks, so that an instance's memory stays bounded (~2 MB) and a
	// cancelled batch stops within one chunk.
	for i := 0; i < len(out) && err == nil; i += maxChunk {
		if err = ctx.Err(); err != nil {
			err = fmt.Errorf("mnist: stopped after %d of %d images: %w", i, len(out), err)
			break
		}
		n := min(maxChunk, len(out)-i)
		err = in.classify(images[i*ImageSize:(i+n)*ImageSize], out[i:i+n])
	}
	if err != nil && in.broken {
		in.mod.Close(context.Background())
		c.slots <- struct{}{} // a fresh instance may replace it
	} else {
		c.idle <- in
	}
	return err
}

// acquire returns an idle instance, a new one if the limit allows, or
// waits for one to come back until ctx is done.
func (c *Classifier) acquire(ctx context.Context) (*instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	select {
	case in := <-c.idle:
		return in, nil
	default:
	}
	select {
	case in := <-c.idle:
		return in, nil
	case <-c.slots:
		in, err := c.newInstance(ctx)
		if err != nil {
			c.slots <- struct{}{}
		}
		return in, err
	case <-ctx.Done():
		return nil, fmt.Errorf("mnist: waiting for a free instance: %w", ctx.Err())
	}
}

// ---- one WebAssembly instance -------------------------------------------------

type instance struct {
	mod                           api.Module
	mem                           api.Memory
	classifyFn, alloc, free       api.Function
	version, backend, errorFn     api.Function
	stack                         []uint64
	capacity                      int    // images the buffers hold
	pixels, logits, probs, digits uint32 // buffer offsets in mem
	broken                        bool   // trapped: do not reuse
}

func (c *Classifier) newInstance(ctx context.Context) (*instance, error) {
	// Reactor module: no _start; _initialize runs the C constructors.
	mod, err := c.runtime.InstantiateModule(ctx, c.compiled,
		wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
	if err != nil {
		return nil, fmt.Errorf("mnist: instantiating the module: %w", err)
	}
	in := &instance{
		mod:        mod,
		mem:        mod.Memory(),
		classifyFn: mod.ExportedFunction("mnist_classify"),
		alloc:      mod.ExportedFunction("mnist_alloc"),
		free:       mod.ExportedFunction("mnist_free"),
		version:    mod.ExportedFunction("mnist_version"),
		backend:    mod.ExportedFunction("mnist_backend"),
		errorFn:    mod.ExportedFunction("mnist_error"),
		stack:      make([]uint64, 5),
	}
	abi := mod.ExportedFunction("mnist_abi_version")
	if in.mem == nil || in.classifyFn == nil || in.alloc == nil || in.free == nil ||
		in.version == nil || in.backend == nil || in.errorFn == nil || abi == nil {
		mod.Close(ctx)
		return nil, errors.New("mnist: the embedded module lacks an export of the minitensor_mnist.h ABI")
	}
	if v := in.call0(abi); v != abiVersion {
		mod.Close(ctx)
		return nil, fmt.Errorf("mnist: module ABI %d, this package speaks %d", v, abiVersion)
	}
	if err := in.reserve(1); err != nil {
		mod.Close(ctx)
		return nil, err
	}
	return in, nil
}

// call0 calls a function of no arguments returning an i32 (0 on a trap).
func (in *instance) call0(f api.Function) uint32 {
	in.stack[0] = 0
	if err := f.CallWithStack(context.Background(), in.stack); err != nil {
		return 0
	}
	return uint32(in.stack[0])
}

func (in *instance) cString(ptr uint32) string {
	var s []byte
	for {
		b, ok := in.mem.ReadByte(ptr)
		if !ok || b == 0 {
			return string(s)
		}
		s = append(s, b)
		ptr++
	}
}

// reserve makes the buffers hold at least n images.
func (in *instance) reserve(n int) error {
	if n <= in.capacity {
		return nil
	}
	ctx := context.Background()
	for _, p := range []uint32{in.pixels, in.logits, in.probs, in.digits} {
		in.stack[0] = uint64(p)
		if err := in.free.CallWithStack(ctx, in.stack); err != nil {
			in.broken = true
			return fmt.Errorf("mnist: mnist_free: %w", err)
		}
	}
	in.capacity = 0
	sizes := [4]int{n * ImageSize, n * Classes * 4, n * Classes * 4, n * 4}
	var ptrs [4]uint32
	for i, size := range sizes {
		in.stack[0] = uint64(size)
		if err := in.alloc.CallWithStack(ctx, in.stack); err != nil {
			in.broken = true
			return fmt.Errorf("mnist: mnist_alloc: %w", err)
		}
		if ptrs[i] = uint32(in.stack[0]); ptrs[i] == 0 {
			in.broken = true // buffers half-allocated: start afresh
			return fmt.Errorf("mnist: out of WebAssembly memory for a batch of %d images", n)
		}
	}
	in.pixels, in.logits, in.probs, in.digits = ptrs[0], ptrs[1], ptrs[2], ptrs[3]
	in.capacity = n
	return nil
}

func (in *instance) classify(images []byte, out []Result) error {
	n := len(out)
	if n == 0 {
		return nil
	}
	if err := in.reserve(n); err != nil {
		return err
	}
	if !in.mem.Write(in.pixels, images) {
		in.broken = true
		return errors.New("mnist: writing the pixels outside the module's memory")
	}
	s := in.stack
	s[0], s[1], s[2], s[3], s[4] = uint64(in.pixels), uint64(n), uint64(in.logits),
		uint64(in.probs), uint64(in.digits)
	if err := in.classifyFn.CallWithStack(context.Background(), s); err != nil {
		in.broken = true
		return fmt.Errorf("mnist: mnist_classify: %w", err)
	}
	if status := uint32(s[0]); status != 0 {
		return fmt.Errorf("mnist: %s (status %d)", in.cString(in.call0(in.errorFn)), status)
	}
	// Views of the memory (valid until the next call into the module).
	logits, ok1 := in.mem.Read(in.logits, uint32(n*Classes*4))
	probs, ok2 := in.mem.Read(in.probs, uint32(n*Classes*4))
	digits, ok3 := in.mem.Read(in.digits, uint32(n*4))
	if !ok1 || !ok2 || !ok3 {
		in.broken = true
		return errors.New("mnist: results outside the module's memory")
	}
	for i := range out {
		r := &out[i]
		r.Digit = int(int32(binary.LittleEndian.Uint32(digits[4*i:])))
		for j := 0; j < Classes; j++ {
			o := 4 * (i*Classes + j)
			r.Logits[j] = math.Float32frombits(binary.LittleEndian.Uint32(logits[o:]))
			r.Probs[j] = math.Float32frombits(binary.LittleEndian.Uint32(probs[o:]))
		}
	}
	return nil
}

// ---- a shared default classifier ------------------------------------------------

var (
	defaultOnce sync.Once
	defaultC    *Classifier
	defaultErr  error
)

// Default returns a Classifier shared by the package-level functions,
// created on first use with the default Options and never closed.
func Default() (*Classifier, error) {
	defaultOnce.Do(func() {
		defaultC, defaultErr = New(context.Background(), nil)
	})
	return defaultC, defaultErr
}

// Classify one image with the Default classifier.
func Classify(pixels []byte) (digit int, probs [Classes]float32, err error) {
	c, err := Default()
	if err != nil {
		return 0, probs, err
	}
	return c.Classify(pixels)
}

// ClassifyBatch classifies n×784 bytes with the Default classifier.
func ClassifyBatch(images []byte) ([]Result, error) {
	c, err := Default()
	if err != nil {
		return nil, err
	}
	return c.ClassifyBatch(images)
}
