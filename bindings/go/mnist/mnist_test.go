package mnist

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The repository's committed test digits and TensorFlow's logits for them
// (examples/mnist/data; see examples/mnist/train/README.md). Outside a
// checkout of the repository (the module alone) the tests that need them
// skip.
var dataDir = filepath.Join("..", "..", "..", "examples", "mnist", "data")

const (
	nTest       = 1000
	wantCorrect = 957  // TensorFlow's accuracy on these digits: 95.7 %
	logitsTol   = 1e-4 // absolute, against TensorFlow's and native logits
)

type testData struct {
	images []byte    // nTest×784
	labels []byte    // nTest
	tf     []float32 // nTest×10, TensorFlow
}

var (
	dataOnce sync.Once
	data     *testData
	dataErr  error
)

func readIDX(path string, magic uint32, header int, want int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != header+want || binary.BigEndian.Uint32(b) != magic {
		return nil, fmt.Errorf("%s: not an IDX file of %d items", path, nTest)
	}
	return b[header:], nil
}

func readF32(path string, n int) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != 4*n {
		return nil, fmt.Errorf("%s: %d bytes, expected %d float32", path, len(b), n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

func loadData(t testing.TB) *testData {
	t.Helper()
	dataOnce.Do(func() {
		if _, err := os.Stat(dataDir); err != nil {
			dataErr = err
			return
		}
		d := &testData{}
		if d.images, dataErr = readIDX(filepath.Join(dataDir, "test-images-idx3-ubyte"), 0x803, 16, nTest*ImageSize); dataErr != nil {
			return
		}
		if d.labels, dataErr = readIDX(filepath.Join(dataDir, "test-labels-idx1-ubyte"), 0x801, 8, nTest); dataErr != nil {
			return
		}
		if d.tf, dataErr = readF32(filepath.Join(dataDir, "test-logits.f32"), nTest*Classes); dataErr != nil {
			return
		}
		data = d
	})
	if errors.Is(dataErr, os.ErrNotExist) {
		t.Skipf("test data not found (%v): run from a checkout of the repository", dataErr)
	}
	if dataErr != nil {
		t.Fatal(dataErr)
	}
	return data
}

func newClassifier(t testing.TB, opts *Options) *Classifier {
	t.Helper()
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// maxDiff of the logits of rs and ref (n×10), and where.
func maxDiff(rs []Result, ref []float32) (float64, int) {
	worst, at := 0.0, 0
	for i, r := range rs {
		for j, v := range r.Logits {
			if d := math.Abs(float64(v) - float64(ref[i*Classes+j])); d > worst || math.IsNaN(d) {
				worst, at = d, i
			}
		}
	}
	return worst, at
}

func TestModule(t *testing.T) {
	c := newClassifier(t, nil)
	if c.Version() == "" {
		t.Error("empty version")
	}
	// The SIMD128 micro-kernel is compiled in (tensor/native/kernel_wasm128.c).
	if !strings.Contains(c.Backend(), "wasm-simd128") {
		t.Errorf("backend %q, expected the wasm-simd128 kernel", c.Backend())
	}
	t.Logf("minitensor %s, %s", c.Version(), c.Backend())
}

// All 1000 digits: accuracy as TensorFlow's, logits within 1e-4 of
// TensorFlow's, and (with MT_NATIVE_LOGITS=FILE from `mnist eval … --logits
// FILE` of a native build) the native predictions and logits.
func TestPredictions(t *testing.T) {
	d := loadData(t)
	c := newClassifier(t, nil)
	rs, err := c.ClassifyBatch(d.images)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i, r := range rs {
		if r.Digit == int(d.labels[i]) {
			correct++
		}
		sum := float32(0)
		for _, p := range r.Probs {
			sum += p
		}
		if math.Abs(float64(sum)-1) > 1e-5 {
			t.Fatalf("image %d: probabilities sum to %g", i, sum)
		}
	}
	if correct != wantCorrect {
		t.Errorf("%d of %d correct, TensorFlow gets %d", correct, nTest, wantCorrect)
	}
	if diff, at := maxDiff(rs, d.tf); !(diff <= logitsTol) {
		t.Errorf("logits differ from TensorFlow's by %g (image %d), tolerance %g", diff, at, logitsTol)
	} else {
		t.Logf("%d/%d correct; max |logit - TensorFlow| = %.3g", correct, nTest, diff)
	}

	path := os.Getenv("MT_NATIVE_LOGITS")
	if path == "" {
		t.Log("MT_NATIVE_LOGITS not set: native comparison skipped (tests/wasm/run_all.sh sets it)")
		return
	}
	native, err := readF32(path, nTest*Classes)
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for i, r := range rs {
		if r.Digit == argmax(native[i*Classes:(i+1)*Classes]) {
			same++
		} else {
			t.Errorf("image %d: wasm says %d, native says %d", i, r.Digit, argmax(native[i*Classes:(i+1)*Classes]))
		}
	}
	if diff, at := maxDiff(rs, native); !(diff <= logitsTol) {
		t.Errorf("logits differ from native by %g (image %d), tolerance %g", diff, at, logitsTol)
	} else {
		t.Logf("same prediction as native on %d/%d; max |logit - native| = %.3g", same, nTest, diff)
	}
}

func argmax(row []float32) int {
	best := 0
	for j := range row {
		if row[j] > row[best] {
			best = j
		}
	}
	return best
}

// Single calls (the gemv path) agree with the batch (the blocked path).
func TestClassifyMatchesBatch(t *testing.T) {
	d := loadData(t)
	c := newClassifier(t, nil)
	rs, err := c.ClassifyBatch(d.images[:100*ImageSize])
	if err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		digit, probs, err := c.Classify(d.images[i*ImageSize : (i+1)*ImageSize])
		if err != nil {
			t.Fatal(err)
		}
		if digit != rs[i].Digit {
			t.Fatalf("image %d: Classify says %d, ClassifyBatch %d", i, digit, rs[i].Digit)
		}
		for j := range probs {
			if math.Abs(float64(probs[j]-rs[i].Probs[j])) > 1e-6 {
				t.Fatalf("image %d class %d: probability %g alone, %g in a batch", i, j, probs[j], rs[i].Probs[j])
			}
		}
	}
	// The package-level functions use the shared classifier.
	digit, _, err := Classify(d.images[:ImageSize])
	if err != nil || digit != rs[0].Digit {
		t.Fatalf("Classify: %d, %v; want %d", digit, err, rs[0].Digit)
	}
	if b, err := ClassifyBatch(d.images[:3*ImageSize]); err != nil || len(b) != 3 || b[2].Digit != rs[2].Digit {
		t.Fatalf("ClassifyBatch: %v, %v", b, err)
	}
}

func TestInputErrors(t *testing.T) {
	c := newClassifier(t, nil)
	for _, n := range []int{0, 1, 783, 785, 2 * ImageSize} {
		_, _, err := c.Classify(make([]byte, n))
		if !errors.Is(err, ErrInputSize) {
			t.Errorf("Classify(%d bytes): error %v, expected ErrInputSize", n, err)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("got %d", n)) {
			t.Errorf("Classify(%d bytes): message %q does not give the size", n, err)
		}
	}
	for _, n := range []int{1, 783, 785, 3*ImageSize - 1} {
		if _, err := c.ClassifyBatch(make([]byte, n)); !errors.Is(err, ErrInputSize) {
			t.Errorf("ClassifyBatch(%d bytes): error %v, expected ErrInputSize", n, err)
		}
	}
	if rs, err := c.ClassifyBatch(nil); err != nil || len(rs) != 0 {
		t.Errorf("ClassifyBatch(nil) = %v, %v; want no results, no error", rs, err)
	}
	c.Close(context.Background())
	if _, _, err := c.Classify(make([]byte, ImageSize)); !errors.Is(err, ErrClosed) {
		t.Errorf("Classify after Close: %v, expected ErrClosed", err)
	}
}

// A Classifier not made by New, or an absurd pool size, is an error: not a
// panic, a fatal out-of-memory (a pool channel of 2^40 slots) or a call
// that waits forever for an instance that no one will create.
func TestMisuse(t *testing.T) {
	px := make([]byte, ImageSize)
	var zero Classifier
	for name, c := range map[string]*Classifier{"nil": nil, "zero": &zero} {
		done := make(chan error, 2)
		go func() {
			_, _, err := c.Classify(px)
			done <- err
			_, err = c.ClassifyBatch(px)
			done <- err
		}()
		for k := 0; k < 2; k++ {
			select {
			case err := <-done:
				if !errors.Is(err, ErrClosed) {
					t.Errorf("%s Classifier: error %v, expected ErrClosed", name, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s Classifier: the call hangs", name)
			}
		}
		if err := c.Close(context.Background()); err != nil || c.Version() != "" || c.Backend() != "" {
			t.Errorf("%s Classifier: Close %v, Version %q, Backend %q", name, err, c.Version(), c.Backend())
		}
	}
	for _, n := range []int{MaxInstances + 1, 1 << 40} {
		c, err := New(context.Background(), &Options{MaxInstances: n})
		if c != nil || !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), fmt.Sprint(n)) {
			t.Errorf("New(MaxInstances %d) = %v, %v; expected an error wrapping ErrOptions", n, c, err)
		}
	}
}

// cancelAfter is a context whose Err turns to Canceled after `calls` nil
// answers: it stops a batch at a known chunk boundary without timing.
type cancelAfter struct {
	context.Context
	calls int
}

func (c *cancelAfter) Err() error {
	if c.calls == 0 {
		return context.Canceled
	}
	c.calls--
	return nil
}

// The Context calls: a done context fails before any work, a wait for a
// busy instance ends at the deadline, a batch stops between chunks, and the
// classifier works normally afterwards.
func TestContext(t *testing.T) {
	c := newClassifier(t, &Options{MaxInstances: 1})
	px := make([]byte, ImageSize)
	want, _, err := c.Classify(px)
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.ClassifyContext(done, px); !errors.Is(err, context.Canceled) {
		t.Errorf("ClassifyContext(cancelled) = %v, expected context.Canceled", err)
	}
	if rs, err := c.ClassifyBatchContext(done, px); rs != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("ClassifyBatchContext(cancelled) = %d results, %v; expected context.Canceled", len(rs), err)
	}

	// The only instance is busy: the call waits until its deadline.
	in, err := c.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer stop()
	_, _, err = c.ClassifyContext(short, px)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for a free instance") {
		t.Errorf("ClassifyContext with every instance busy = %v, expected a deadline error", err)
	}
	c.idle <- in

	// Cancelled after the first chunk (acquire asks once, the loop once per chunk).
	batch := make([]byte, (maxChunk+1)*ImageSize)
	rs, err := c.ClassifyBatchContext(&cancelAfter{context.Background(), 2}, batch)
	if rs != nil || !errors.Is(err, context.Canceled) ||
		!strings.Contains(err.Error(), fmt.Sprintf("after %d of %d images", maxChunk, maxChunk+1)) {
		t.Errorf("ClassifyBatchContext cancelled after one chunk = %d results, %v", len(rs), err)
	}
	rs, err = c.ClassifyBatchContext(context.Background(), batch)
	if err != nil || len(rs) != maxChunk+1 || rs[maxChunk].Digit != want {
		t.Errorf("after the cancellations: %d results, %v; expected %d, digit %d", len(rs), err, maxChunk+1, want)
	}
}

// Goroutines sharing one Classifier (more goroutines than instances) get
// the answers a single goroutine gets; batches of different sizes make the
// instances grow their buffers and memory.
func TestConcurrent(t *testing.T) {
	d := loadData(t)
	c := newClassifier(t, &Options{MaxInstances: 3})
	want, err := c.ClassifyBatch(d.images)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < 40; k++ {
				i := (g*131 + k*17) % nTest
				n := 1 + (g+k)%7
				if i+n > nTest {
					n = nTest - i
				}
				rs, err := c.ClassifyBatch(d.images[i*ImageSize : (i+n)*ImageSize])
				if err != nil {
					errs <- err
					return
				}
				for m, r := range rs {
					if r.Digit != want[i+m].Digit {
						errs <- fmt.Errorf("goroutine %d: image %d: %d, want %d", g, i+m, r.Digit, want[i+m].Digit)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// go test -bench . -benchtime 2s: time per call.
func BenchmarkClassify(b *testing.B) {
	d := loadData(b)
	c := newClassifier(b, nil)
	px := d.images[:ImageSize]
	if _, _, err := c.Classify(px); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := c.Classify(px); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClassifyBatch256(b *testing.B) {
	d := loadData(b)
	c := newClassifier(b, nil)
	batch := d.images[:256*ImageSize]
	if _, err := c.ClassifyBatch(batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.ClassifyBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*256/b.Elapsed().Seconds(), "images/s")
}

// All cores, one Classifier.
func BenchmarkClassifyParallel(b *testing.B) {
	d := loadData(b)
	c := newClassifier(b, nil)
	px := d.images[:ImageSize]
	if _, _, err := c.Classify(px); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := c.Classify(px); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
