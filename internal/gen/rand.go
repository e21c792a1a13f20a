package gen

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// Kinds of random streams. Every record draws from streams seeded by
// (seed, kind, index, epoch) and from nothing else, so any record can be
// computed alone, in any order, by any goroutine.
const (
	kindQIDs uint64 = iota + 1
	kindVulnHead
	kindVulnBody
	kindVulnMod
	kindCVEHead
	kindCVEBody
	kindCVEMod
	kindCVEIDs
	kindHost
	kindScan
	kindDetBase
	kindDetQID
	kindDetStep
	kindDetNew
	kindResults
)

// mix is the splitmix64 finaliser: a cheap bijection that spreads every
// input bit over the output.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hash gives one well-mixed 64-bit value for (seed, kind, a, b). The
// per-epoch decisions (is this detection fixed today?) use it instead of a
// generator: one call, no state.
func (d *Dataset) hash(kind, a, b uint64) uint64 {
	return mix(mix(mix(d.seed^kind*0xd1342543de82ef95)^a) ^ b)
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// rnd is a PCG stream. It is a value, not a *rand.Rand, so that seeding one
// per record allocates nothing.
type rnd struct{ p rand.PCG }

func (d *Dataset) rng(kind, a, b uint64) rnd {
	var r rnd
	r.p.Seed(mix(d.seed^kind*0x9e3779b97f4a7c15), mix(a*0xff51afd7ed558ccd^mix(b)))
	return r
}

func (r *rnd) u64() uint64 { return r.p.Uint64() }

// intn returns a value in [0, n) by the multiply-high method; the bias is
// below 2^-32 for the sizes used here.
func (r *rnd) intn(n int) int {
	if n <= 1 {
		return 0
	}
	hi, _ := bits.Mul64(r.p.Uint64(), uint64(n))
	return int(hi)
}

// between returns a value in [lo, hi].
func (r *rnd) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

func (r *rnd) float() float64 { return unit(r.p.Uint64()) }

func (r *rnd) chance(p float64) bool { return r.float() < p }

func pick[T any](r *rnd, list []T) T { return list[r.intn(len(list))] }

// weighted returns an index into weights with probability proportional to
// its weight.
func (r *rnd) weighted(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := r.intn(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// skewed returns a value in [0, n) where small values are much more likely:
// n·u^k for uniform u. k=2 puts half the mass on the first quarter.
func (r *rnd) skewed(n int, k float64) int {
	u := r.float()
	var x float64
	switch k { // the common exponents without math.Pow, which is slow
	case 1:
		x = u
	case 2:
		x = u * u
	case 3:
		x = u * u * u
	default:
		x = math.Pow(u, k)
	}
	return min(int(x*float64(n)), n-1)
}
