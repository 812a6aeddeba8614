use std::cell::RefCell;
use std::cmp::Ordering;
use std::ops::Range;
use std::sync::OnceLock;

use super::recognizer::{gap, Mark, Needs, Scan};
use super::{recognizers, Candidate, EntityType, PiiOptions, Recognizer};

/// Candidates scoring below this are not reported by default. Chosen so that every
/// validated structured match (email, Luhn-valid card, formatted SSN) passes, while weak
/// matches (nine bare digits as an SSN) need a context word.
pub const DEFAULT_THRESHOLD: f64 = 0.5;

/// One detected piece of PII.
#[derive(Debug, Clone, PartialEq)]
pub struct PiiSpan {
    pub entity: EntityType,
    /// 0-based Unicode code-point offset of the first character.
    pub start: usize,
    /// Code-point offset one past the last character.
    pub end: usize,
    /// Byte range in the analyzed text (for slicing the Rust `&str`).
    pub byte_start: usize,
    pub byte_end: usize,
    pub score: f64,
}

impl PiiSpan {
    /// The detected text.
    pub fn value<'a>(&self, text: &'a str) -> &'a str {
        &text[self.byte_start..self.byte_end]
    }
}

/// Runs a set of recognizers over texts.
pub struct Analyzer {
    recognizers: Vec<Box<dyn Recognizer>>,
    /// What the analyzer reads of each recognizer per text, read once here.
    facts: Vec<Facts>,
    threshold: f64,
    /// One multi-pattern pass over the text that tells which regex recognizers can match
    /// at all; the others are skipped without running their own search. Recognizers that
    /// search only windows of the text (see [`super::Windows`]) are not in it.
    gate: Option<Gate>,
    /// The recognizers a text's scan can call for, found from a few table lookups (None
    /// with more than 64 recognizers: each one's needs are checked in turn).
    dispatch: Option<Dispatch>,
    /// The class conditions of the recognizers' needs, checked for all of them in one
    /// pass (None: each is checked with the rest of its needs).
    classes: Option<Classes>,
}

/// The [`Needs::class`] conditions of up to 64 recognizers (at most 8 distinct ones, each
/// of at most 63 digits), checked for all of them in one pass over the digit marks: the
/// digits of the current run of marks in each condition's class are counted in a lane (a
/// byte) of a `u64`, a gap's resets and a mark's digits in a few operations for all lanes.
struct Classes {
    /// Per condition (lane): the bits of the recognizers that state it.
    bits: Vec<u64>,
    /// For each [`gap`] atom (bit): the lanes (all eight bits set) whose class lacks it.
    lacking: [u64; 16],
    /// In each used lane, 128 minus the condition's digits: a lane's count reaches them
    /// exactly when adding this sets its top bit.
    bias: u64,
    /// 1 in each used lane.
    ones: u64,
    /// Index `n` (up to 63): the recognizers whose condition asks for more than `n` digits.
    /// A digit run of `n` meets the others' at once.
    above: [u64; 64],
}

/// The top bit of each lane.
const TOPS: u64 = u64::from_ne_bytes([0x80; 8]);

impl Classes {
    fn new(needs: &[Needs]) -> Option<Classes> {
        if needs.len() > 64 {
            return None;
        }
        let mut conds: Vec<(u16, usize, u64)> = Vec::new();
        for (i, n) in needs.iter().enumerate() {
            if n.class_digits == 0 {
                continue;
            }
            match conds
                .iter_mut()
                .find(|c| (c.0, c.1) == (n.class, n.class_digits))
            {
                Some(c) => c.2 |= 1 << i,
                None => conds.push((n.class, n.class_digits, 1 << i)),
            }
        }
        if conds.len() > 8 || conds.iter().any(|c| c.1 > 63) {
            return None;
        }
        let mut c = Classes {
            bits: Vec::new(),
            lacking: [0; 16],
            bias: 0,
            ones: 0,
            above: [0; 64],
        };
        for (lane, &(class, digits, bits)) in conds.iter().enumerate() {
            c.bits.push(bits);
            for above in &mut c.above[..digits] {
                *above |= bits;
            }
            // Lane `lane` is byte `lane` of the little-endian bytes.
            c.bias |= (128 - digits as u64) << (8 * lane);
            c.ones |= 1 << (8 * lane);
            for (atom, lacking) in c.lacking.iter_mut().enumerate() {
                if class & (1 << atom) == 0 {
                    *lacking |= 0xFF << (8 * lane);
                }
            }
        }
        Some(c)
    }

    /// `mask` without the recognizers whose class condition `scan` fails.
    #[inline]
    fn filter(&self, scan: &Scan, mask: u64) -> u64 {
        // (In an ASCII text `digit_run_bound` is the longest digit run, which lies in a
        // window of every class.)
        if !scan.is_ascii() || mask & self.above[scan.digit_run_bound.min(63)] == 0 {
            return mask;
        }
        // Each lane's count stays below its condition's digits (at most 63), and a mark adds
        // at most 64: no lane reaches 256.
        let (mut runs, mut reached) = (0u64, 0u64);
        for (atoms, m) in scan.digit_marks_with_gaps() {
            // A gap too long to read may lie in any class: it resets no count.
            let mut a = atoms & !gap::UNKNOWN;
            while a != 0 {
                runs &= !self.lacking[a.trailing_zeros() as usize];
                a &= a - 1;
            }
            runs += self.ones * (m.end - m.start).min(64) as u64;
            let hit = (runs + self.bias) & TOPS;
            reached |= hit;
            // Lanes that reached their digits are done: zeroed, so they cannot overflow.
            runs &= !((hit >> 7) * 0xFF);
        }
        let mut mask = mask;
        for (&lane, &bits) in reached.to_le_bytes().iter().zip(&self.bits) {
            if lane == 0 {
                mask &= !bits;
            }
        }
        mask
    }
}

/// For up to 64 recognizers (bit `i`: recognizer `i`), which ones a scan may call for: a
/// superset of those whose [`Needs`] it meets, from its digit count, its longest digit run
/// and its mark kinds, instead of checking each recognizer's needs in turn.
struct Dispatch {
    /// Index `min(n, CAP)`: the recognizers that need at most `n` digits (those that need
    /// more than `CAP` are in the last entry).
    digits: [u64; Dispatch::CAP + 1],
    /// The same for [`Scan::digit_run_bound`] and `min_digit_run`.
    run: [u64; Dispatch::CAP + 1],
    /// Index: a scan's [`super::seed`] kinds (all below bit 9): the recognizers that
    /// need no mark kind or one of those.
    kinds: Box<[u64; 512]>,
}

impl Dispatch {
    const CAP: usize = 16;

    fn new(needs: &[Needs]) -> Option<Dispatch> {
        if needs.len() > 64 {
            return None;
        }
        let mut d = Dispatch {
            digits: [0; Dispatch::CAP + 1],
            run: [0; Dispatch::CAP + 1],
            kinds: Box::new([0; 512]),
        };
        for (i, n) in needs.iter().enumerate() {
            let bit = 1u64 << i;
            for k in 0..=Dispatch::CAP {
                if n.min_digits.min(Dispatch::CAP) <= k {
                    d.digits[k] |= bit;
                }
                if n.min_digit_run.min(Dispatch::CAP) <= k {
                    d.run[k] |= bit;
                }
            }
            for (kinds, m) in d.kinds.iter_mut().enumerate() {
                // Kinds past the table's bits are always let through.
                if n.kinds == 0 || n.kinds >= 512 || n.kinds & kinds as u16 != 0 {
                    *m |= bit;
                }
            }
        }
        Some(d)
    }

    /// The recognizers whose needs `scan` may meet (every one that it meets, and maybe a
    /// few more: [`Needs::met_by`] still decides).
    #[inline]
    fn candidates(&self, scan: &Scan) -> u64 {
        // (Every seed kind is below bit 9; `min` keeps the index in bounds regardless.)
        self.kinds[usize::from(scan.kinds).min(511)]
            & self.digits[scan.digits.min(Dispatch::CAP)]
            & self.run[scan.digit_run_bound.min(Dispatch::CAP)]
    }
}

/// The positions of the recognizers to try on a text, in order.
enum Todo {
    /// The set bits of a [`Dispatch::candidates`] mask.
    Mask(u64),
    All(Range<usize>),
}

impl Iterator for Todo {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        match self {
            Todo::Mask(0) => None,
            Todo::Mask(m) => {
                let i = m.trailing_zeros() as usize;
                *m &= *m - 1;
                Some(i)
            }
            Todo::All(r) => r.next(),
        }
    }
}

/// A recognizer's constant answers, read once (in one array, rather than by a call or
/// an array each per text).
struct Facts {
    /// `needs()`: the recognizer is called only on texts that meet it.
    needs: Needs,
    entity: EntityType,
    /// `builtin_bit` of the entity, for the per-call entity filter.
    bit: u32,
    /// `context_boost()`: what [`Analyzer::redaction_spans`] may defer.
    boost: f64,
    /// Position of the recognizer's pattern in the gate's set (None: not gated).
    gate: Option<usize>,
}

struct Gate {
    set: regex::RegexSet,
    /// Position in `set` of each recognizer's pattern (None: not gated).
    slot: Vec<Option<usize>>,
}

impl Gate {
    fn new(recognizers: &[Box<dyn Recognizer>]) -> Option<Gate> {
        let mut patterns = Vec::new();
        let slot = recognizers
            .iter()
            .map(|r| {
                r.pattern().map(|p| {
                    patterns.push(p.to_string());
                    patterns.len() - 1
                })
            })
            .collect();
        if patterns.is_empty() {
            return None;
        }
        let set = regex::RegexSetBuilder::new(&patterns)
            .dfa_size_limit(32 << 20)
            .build()
            .ok()?;
        Some(Gate { set, slot })
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new(recognizers::builtin(), DEFAULT_THRESHOLD)
    }
}

impl Analyzer {
    pub fn new(recognizers: Vec<Box<dyn Recognizer>>, threshold: f64) -> Self {
        let gate = Gate::new(&recognizers);
        let facts: Vec<Facts> = recognizers
            .iter()
            .enumerate()
            .map(|(i, r)| Facts {
                needs: r.needs(),
                entity: r.entity(),
                bit: builtin_bit(r.entity()),
                boost: r.context_boost(),
                gate: gate.as_ref().and_then(|g| g.slot[i]),
            })
            .collect();
        let needs: Vec<Needs> = facts.iter().map(|f| f.needs).collect();
        let dispatch = Dispatch::new(&needs);
        let classes = dispatch.as_ref().and_then(|_| Classes::new(&needs));
        Analyzer {
            gate,
            dispatch,
            classes,
            facts,
            recognizers,
            threshold,
        }
    }

    /// The default analyzer, built once per process (its regexes compile once).
    pub fn shared_default() -> &'static Analyzer {
        static DEFAULT: OnceLock<Analyzer> = OnceLock::new();
        DEFAULT.get_or_init(Analyzer::default)
    }

    /// Finds PII in `text`: candidates at or above the threshold, overlaps resolved to the
    /// higher score (then the longer span, then the earlier one), sorted by position.
    pub fn analyze(&self, text: &str) -> Vec<PiiSpan> {
        self.find(
            text,
            &[],
            |_, _| true,
            self.threshold,
            &[],
            Scores::Exact,
            |kept| to_spans(text, kept),
        )
    }

    /// Like [`Analyzer::analyze`] with per-call options: entity filter (recognizers of
    /// other types do not run, user patterns and deny lists included), threshold, allow
    /// list, and the options' own recognizers.
    pub fn analyze_with(&self, text: &str, options: &PiiOptions) -> Vec<PiiSpan> {
        self.analyze_options(text, options, Scores::Exact, |kept| to_spans(text, kept))
    }

    /// [`Analyzer::redact_with`]'s candidates as spans, for tests to compare with those of
    /// [`Analyzer::analyze`].
    #[cfg(test)]
    pub(crate) fn redaction_spans(&self, text: &str, options: Option<&PiiOptions>) -> Vec<PiiSpan> {
        self.redact_with(text, options, |kept| to_spans(text, kept))
    }

    /// Calls `replace` with the candidates kept for a redaction, in order, and returns what
    /// it returns: the spans [`Analyzer::analyze`] (`options` None) or
    /// [`Analyzer::analyze_with`] finds — the same types and byte ranges, without the
    /// code-point offsets a redaction has no use for — with scores that may be lower than
    /// theirs (never below the threshold), because context words are looked up only where
    /// they can change which spans are kept (see [`defer`]).
    pub(crate) fn redact_with<R>(
        &self,
        text: &str,
        options: Option<&PiiOptions>,
        replace: impl FnOnce(&[Candidate]) -> R,
    ) -> R {
        match options {
            None => self.find(
                text,
                &[],
                |_, _| true,
                self.threshold,
                &[],
                Scores::Deferred,
                replace,
            ),
            Some(o) => self.analyze_options(text, o, Scores::Deferred, replace),
        }
    }

    fn analyze_options<R>(
        &self,
        text: &str,
        options: &PiiOptions,
        scores: Scores,
        finish: impl FnOnce(&[Candidate]) -> R,
    ) -> R {
        // `options.wants` for the built-in types as bits (computed when the options were
        // parsed), rather than a search of the entity list for every recognizer.
        let builtin = options.builtin_mask();
        self.find(
            text,
            &options.custom.recognizers,
            |e, bit| match bit {
                0 => options.wants(e),
                bit => builtin & bit != 0,
            },
            options.threshold,
            &options.allow,
            scores,
            finish,
        )
    }

    /// Runs the recognizers and resolves their candidates; `finish` gets the kept ones,
    /// in order.
    #[allow(clippy::too_many_arguments)]
    fn find<R>(
        &self,
        text: &str,
        extra: &[Box<dyn Recognizer>],
        wants: impl Fn(EntityType, u32) -> bool,
        threshold: f64,
        allow: &[String],
        scores: Scores,
        finish: impl FnOnce(&[Candidate]) -> R,
    ) -> R {
        thread_local! {
            static BUFFERS: RefCell<Buffers> = const { RefCell::new(Buffers::new()) };
        }
        // Taken out of the cell (not borrowed), so a nested call cannot conflict.
        let mut buffers = BUFFERS.with(|m| m.take());
        buffers.candidates.clear();
        buffers.deferred.clear();
        let found = self.find_scanned(
            text,
            &mut buffers,
            extra,
            wants,
            threshold,
            allow,
            scores,
            finish,
        );
        BUFFERS.with(|m| m.replace(buffers));
        found
    }

    #[allow(clippy::too_many_arguments)]
    fn find_scanned<R>(
        &self,
        text: &str,
        buffers: &mut Buffers,
        extra: &[Box<dyn Recognizer>],
        // The entity and its `builtin_bit`.
        wants: impl Fn(EntityType, u32) -> bool,
        threshold: f64,
        allow: &[String],
        scores: Scores,
        finish: impl FnOnce(&[Candidate]) -> R,
    ) -> R {
        let Buffers {
            marks,
            candidates,
            deferred,
        } = buffers;
        let scan = Scan::new(text, marks);
        let hits = self.gate.as_ref().map(|g| g.set.matches(text));
        let todo = match (&self.dispatch, &self.classes) {
            (Some(d), Some(c)) => Todo::Mask(c.filter(&scan, d.candidates(&scan))),
            (Some(d), None) => Todo::Mask(d.candidates(&scan)),
            (None, _) => Todo::All(0..self.recognizers.len()),
        };
        let classes_checked = self.classes.is_some();
        // In the recognizers' order.
        for i in todo {
            let (r, f) = (&self.recognizers[i], &self.facts[i]);
            let met = if classes_checked {
                f.needs.met_by_but_class(&scan)
            } else {
                f.needs.met_by(&scan)
            };
            if !met || !wants(f.entity, f.bit) {
                continue;
            }
            if let (Some(j), Some(h)) = (f.gate, &hits) {
                if !h.matched(j) {
                    continue;
                }
            }
            match scores {
                Scores::Exact => r.find_in(text, &scan, candidates),
                Scores::Deferred => {
                    let from = candidates.len();
                    r.find_unboosted(text, &scan, candidates);
                    if candidates.len() == from {
                        continue;
                    }
                    let boost = f.boost;
                    deferred.extend(candidates[from..].iter().map(|c| {
                        // Ordered as the kept order compares scores.
                        let alt = (c.score + boost).min(1.0);
                        let (lo, hi, recognizer) = match c.score.total_cmp(&alt) {
                            Ordering::Less => (c.score, alt, i),
                            Ordering::Greater => (alt, c.score, i),
                            Ordering::Equal => (alt, alt, usize::MAX),
                        };
                        Deferred {
                            lo,
                            hi,
                            recognizer,
                            index: 0,
                        }
                    }));
                }
            }
        }
        for r in extra.iter() {
            let e = r.entity();
            if r.needs().met_by(&scan) && wants(e, builtin_bit(e)) {
                let from = candidates.len();
                r.find_in(text, &scan, candidates);
                if scores == Scores::Deferred {
                    deferred.extend(candidates[from..].iter().map(|c| Deferred {
                        lo: c.score,
                        hi: c.score,
                        recognizer: usize::MAX,
                        index: 0,
                    }));
                }
            }
        }
        if candidates.is_empty() {
            return finish(&[]);
        }
        if scores == Scores::Deferred {
            self.defer(text, candidates, deferred, threshold, allow, MANY);
        } else {
            candidates.retain(|c| {
                c.score >= threshold && !allow.iter().any(|a| a.as_str() == &text[c.range.clone()])
            });
        }
        if candidates.is_empty() {
            return finish(&[]);
        }
        // Stable: equal keys keep the recognizers' order.
        candidates.sort_by(|a, b| before(a, a.score, b, b.score));
        keep_first_fits(candidates);
        candidates.sort_by_key(|c| c.range.start);
        finish(candidates)
    }
}

/// Above this many candidates in one text, overlap resolution looks the overlapping ones up
/// in sorted order instead of comparing every pair (quadratic on a long text with many
/// candidates: a 576 KB text took 2 s).
const MANY: usize = 32;

/// Keeps, in order, each candidate that overlaps none kept before it (in place: the kept
/// ones move to the front, in the order they were kept, and the rest is dropped).
fn keep_first_fits(candidates: &mut Vec<Candidate>) {
    keep_first_fits_with(candidates, MANY)
}

/// [`keep_first_fits`], comparing with each kept candidate up to `many` candidates and
/// looking the kept ones up in a sorted set above.
fn keep_first_fits_with(candidates: &mut Vec<Candidate>, many: usize) {
    let mut kept = 0;
    if candidates.len() <= many {
        for i in 0..candidates.len() {
            let c = &candidates[i];
            if candidates[..kept]
                .iter()
                .all(|k| c.range.end <= k.range.start || k.range.end <= c.range.start)
            {
                candidates.swap(kept, i);
                kept += 1;
            }
        }
    } else {
        // The kept spans by (start, end). Those that are not empty are disjoint, and an
        // empty one never lies strictly inside another, so in this order the ends do not
        // decrease: of the spans starting before a candidate's end, the last one reaches
        // furthest, and the candidate overlaps one of them exactly when it overlaps that one.
        let mut spans = std::collections::BTreeSet::new();
        for i in 0..candidates.len() {
            let r = candidates[i].range.clone();
            let fits = spans
                .range(..(r.end, 0))
                .next_back()
                .is_none_or(|&(_, end)| end <= r.start);
            if fits {
                spans.insert((r.start, r.end));
                candidates.swap(kept, i);
                kept += 1;
            }
        }
    }
    candidates.truncate(kept);
}

/// Whether the analyzer needs every candidate's exact score (to report it), or only the
/// spans it keeps (see [`Analyzer::redaction_spans`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scores {
    Exact,
    Deferred,
}

/// The order in which overlapping candidates are kept: higher score, then longer, then
/// earlier (the recognizers' order after that, by a stable sort), given their scores.
fn before(a: &Candidate, a_score: f64, b: &Candidate, b_score: f64) -> Ordering {
    b_score
        .total_cmp(&a_score)
        .then((b.range.end - b.range.start).cmp(&(a.range.end - a.range.start)))
        .then(a.range.start.cmp(&b.range.start))
}

/// A candidate of [`Recognizer::find_unboosted`]: its exact score is `lo` or `hi` (the
/// same when nothing is deferred, `recognizer` then `usize::MAX`).
#[derive(Clone, Copy)]
struct Deferred {
    lo: f64,
    hi: f64,
    /// The recognizer whose [`Recognizer::boosted`] gives the exact score.
    recognizer: usize,
    /// Position among the candidates, as found: the last tie-break of the kept order.
    index: usize,
}

impl Analyzer {
    /// Replaces the scores of `candidates` (found by [`Recognizer::find_unboosted`], with
    /// `deferred` alongside) by their exact ones where these decide what is kept, and drops
    /// the candidates that [`Analyzer::analyze_with`] drops before overlap resolution
    /// (below `threshold`, or in `allow`). The candidates kept after that are the same,
    /// in the same order:
    /// * a score whose two possible values are on the same side of the threshold does not
    ///   decide whether the candidate passes it, nor does one that straddles it when a
    ///   candidate that is surely kept overlaps the candidate and comes first (it is not
    ///   kept, whatever its score);
    /// * which of the remaining candidates are kept depends only on the order of each pair
    ///   of overlapping ones (a candidate is kept when none of the candidates it overlaps is
    ///   kept and comes first), so a pair's scores matter only when, taken at their lowest
    ///   for one and highest for the other, they could order it either way. Pairs that
    ///   start at the same byte count as overlapping, so that the final order by start of
    ///   kept spans (one of them empty) is decided exactly too.
    ///
    /// The scores left deferred are the lower value (at least the threshold).
    ///
    /// Up to `many` candidates, each pending one is compared with every other; above, with
    /// those that overlap it, found in sorted order (the same pairs in the same order).
    fn defer(
        &self,
        text: &str,
        candidates: &mut Vec<Candidate>,
        deferred: &mut Vec<Deferred>,
        threshold: f64,
        allow: &[String],
        many: usize,
    ) {
        // The exact score of candidate `i`, now deferred no more.
        let resolve = |candidates: &mut [Candidate], deferred: &mut [Deferred], i: usize| {
            let d = &mut deferred[i];
            if d.recognizer != usize::MAX {
                let score = self.recognizers[d.recognizer].boosted(text, &candidates[i]);
                candidates[i].score = score;
                (d.lo, d.hi, d.recognizer) = (score, score, usize::MAX);
            }
        };
        // x comes first even at its lowest score and y at its highest.
        let first = |x: &Candidate, dx: &Deferred, y: &Candidate, dy: &Deferred| {
            before(x, dx.lo, y, dy.hi)
                .then(dx.index.cmp(&dy.index))
                .is_lt()
        };
        // Candidates whose highest score passes the threshold; those whose lowest does not
        // ("straddling") are decided next.
        let mut kept = 0;
        let mut straddling = false;
        for i in 0..candidates.len() {
            deferred[i].index = i;
            if !allow.is_empty()
                && allow
                    .iter()
                    .any(|a| a.as_str() == &text[candidates[i].range.clone()])
            {
                continue;
            }
            if deferred[i].hi >= threshold {
                if kept != i {
                    candidates.swap(kept, i);
                    deferred.swap(kept, i);
                }
                straddling |= deferred[kept].lo < threshold;
                kept += 1;
            }
        }
        candidates.truncate(kept);
        deferred.truncate(kept);
        if straddling {
            // A straddling candidate that overlaps one that is surely kept and comes first
            // even at its lowest score (and the straddling one at its highest) is never
            // kept, whatever its score: it is dropped without looking it up. (Surely kept:
            // passes the threshold at its lowest score and comes first against every
            // candidate it overlaps. Overlap as overlap resolution reads it.) The others get
            // their exact score and are dropped below the threshold.
            let n = candidates.len();
            let overlaps = |a: &Range<usize>, b: &Range<usize>| a.start < b.end && b.start < a.end;
            // (Bit k: candidate k is surely kept; none above `many`, or 64, candidates.)
            let mut surely = 0u64;
            if n <= many.min(64) {
                for k in 0..n {
                    let sure = deferred[k].lo >= threshold
                        && (0..n).all(|j| {
                            j == k
                                || !overlaps(&candidates[k].range, &candidates[j].range)
                                || first(&candidates[k], &deferred[k], &candidates[j], &deferred[j])
                        });
                    surely |= u64::from(sure) << k;
                }
            }
            // Decided first, then compacted (the decisions read the other candidates).
            let (mut small, mut large) = ([false; 64], Vec::new());
            let passes: &mut [bool] = if n <= 64 {
                &mut small[..n]
            } else {
                large.resize(n, false);
                &mut large
            };
            for i in 0..n {
                if deferred[i].lo < threshold {
                    let (mut dominated, mut bits) = (false, surely);
                    while bits != 0 && !dominated {
                        let k = bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        dominated = overlaps(&candidates[k].range, &candidates[i].range)
                            && first(&candidates[k], &deferred[k], &candidates[i], &deferred[i]);
                    }
                    if dominated {
                        continue;
                    }
                    resolve(candidates, deferred, i);
                }
                passes[i] = deferred[i].lo >= threshold;
            }
            let mut kept = 0;
            for (i, &pass) in passes.iter().enumerate() {
                if pass {
                    candidates.swap(kept, i);
                    deferred.swap(kept, i);
                    kept += 1;
                }
            }
            candidates.truncate(kept);
            deferred.truncate(kept);
        }
        // Both values of each score are now on the same side of the threshold.
        if deferred.iter().all(|d| d.recognizer == usize::MAX) {
            return;
        }
        let overlap = |a: &Range<usize>, b: &Range<usize>| {
            a.start == b.start || (a.start < b.end && b.start < a.end)
        };
        let n = candidates.len();
        // Above `many` candidates, those overlapping one are found from an index sorted by
        // start (they start at most `longest` bytes before it), then taken in the same
        // order as the plain loop over all of them: the same pairs, in the same order.
        let by_start = (n > many).then(|| {
            let mut by_start: Vec<usize> = (0..n).collect();
            by_start.sort_unstable_by_key(|&k| candidates[k].range.start);
            let longest = candidates.iter().map(|c| c.range.len()).max().unwrap_or(0);
            (by_start, longest)
        });
        let mut near = Vec::new();
        for i in 0..n {
            if deferred[i].recognizer == usize::MAX {
                continue;
            }
            let a = candidates[i].range.clone();
            near.clear();
            match &by_start {
                None => {
                    near.extend((0..n).filter(|&j| j != i && overlap(&a, &candidates[j].range)))
                }
                Some((by_start, longest)) => {
                    let from = by_start
                        .partition_point(|&k| candidates[k].range.start + *longest < a.start);
                    for &j in &by_start[from..] {
                        let b = &candidates[j].range;
                        if b.start > a.start && b.start >= a.end {
                            break;
                        }
                        if j != i && overlap(&a, b) {
                            near.push(j);
                        }
                    }
                    near.sort_unstable();
                }
            }
            for &j in &near {
                let (a, b) = (&candidates[i], &candidates[j]);
                let (da, db) = (&deferred[i], &deferred[j]);
                if !first(a, da, b, db) && !first(b, db, a, da) {
                    resolve(candidates, deferred, i);
                    resolve(candidates, deferred, j);
                    // `i` is exact now: its other pairs need nothing more from it.
                    break;
                }
            }
        }
    }
}

/// The marks and candidates of one text, reused across texts (per thread).
#[derive(Default)]
struct Buffers {
    marks: Vec<Mark>,
    candidates: Vec<Candidate>,
    /// Alongside `candidates` when their scores are deferred.
    deferred: Vec<Deferred>,
}

impl Buffers {
    const fn new() -> Buffers {
        Buffers {
            marks: Vec::new(),
            candidates: Vec::new(),
            deferred: Vec::new(),
        }
    }
}

/// One bit per built-in entity type, 0 for custom labels. Every variant is listed, so a new
/// one cannot be forgotten here.
pub(crate) fn builtin_bit(e: EntityType) -> u32 {
    let i = match e {
        EntityType::Person => 0,
        EntityType::Location => 1,
        EntityType::EmailAddress => 2,
        EntityType::PhoneNumber => 3,
        EntityType::Url => 4,
        EntityType::CreditCard => 5,
        EntityType::IbanCode => 6,
        EntityType::Crypto => 7,
        EntityType::UsBankNumber => 8,
        EntityType::AbaRoutingNumber => 9,
        EntityType::IpAddress => 10,
        EntityType::MacAddress => 11,
        EntityType::DateTime => 12,
        EntityType::UsSsn => 13,
        EntityType::UsItin => 14,
        EntityType::UsNpi => 15,
        EntityType::UsPassport => 16,
        EntityType::UsDriverLicense => 17,
        EntityType::UkNhs => 18,
        EntityType::UkNino => 19,
        EntityType::Custom(_) => return 0,
    };
    1 << i
}

/// Converts byte ranges (sorted, non-overlapping) to code-point offsets in one pass.
fn to_spans(text: &str, kept: &[Candidate]) -> Vec<PiiSpan> {
    let mut spans = Vec::with_capacity(kept.len());
    if text.is_ascii() {
        // One byte per code point.
        spans.extend(kept.iter().map(|c| PiiSpan {
            entity: c.entity,
            start: c.range.start,
            end: c.range.end,
            byte_start: c.range.start,
            byte_end: c.range.end,
            score: c.score,
        }));
        return spans;
    }
    let mut chars_before = 0usize; // code points in text[..byte_pos]
    let mut byte_pos = 0usize;
    for c in kept {
        chars_before += text[byte_pos..c.range.start].chars().count();
        let start = chars_before;
        chars_before += text[c.range.clone()].chars().count();
        byte_pos = c.range.end;
        spans.push(PiiSpan {
            entity: c.entity,
            start,
            end: chars_before,
            byte_start: c.range.start,
            byte_end: c.range.end,
            score: c.score,
        });
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_code_points() {
        let text = "Ünïcödé ✓ jane@example.com";
        let spans = Analyzer::shared_default().analyze(text);
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!((s.start, s.end), (10, 26));
        assert_eq!(s.value(text), "jane@example.com");
        let by_chars: String = text.chars().skip(s.start).take(s.end - s.start).collect();
        assert_eq!(by_chars, "jane@example.com");
    }

    fn fixed(entity: EntityType, pattern: &str, score: fn() -> f64) -> Box<dyn Recognizer> {
        // Validators are plain fns, so each score gets its own tiny fn.
        let v: super::super::Validator = match score() {
            s if s > 0.8 => |_, m| Some((m, 0.9)),
            _ => |_, m| Some((m, 0.6)),
        };
        Box::new(super::super::PatternRecognizer::new(entity, pattern, v, &[], 0.0).unwrap())
    }

    #[test]
    fn overlaps_resolve_to_higher_score_then_longer() {
        let wide = fixed(EntityType::CreditCard, r"\d{4} \d{4}", || 0.6);
        let narrow = fixed(EntityType::UsSsn, r"\d{4}", || 0.9);
        let a = Analyzer::new(vec![wide, narrow], 0.5);
        let got: Vec<_> = a
            .analyze("x 1234 5678")
            .into_iter()
            .map(|s| (s.entity, s.start))
            .collect();
        assert_eq!(got, vec![(EntityType::UsSsn, 2), (EntityType::UsSsn, 7)]);

        let wide = fixed(EntityType::CreditCard, r"\d{4} \d{4}", || 0.9);
        let narrow = fixed(EntityType::UsSsn, r"\d{4}", || 0.9);
        let a = Analyzer::new(vec![narrow, wide], 0.5);
        let got: Vec<_> = a
            .analyze("x 1234 5678")
            .into_iter()
            .map(|s| (s.entity, s.start, s.end))
            .collect();
        assert_eq!(got, vec![(EntityType::CreditCard, 2, 11)]);
    }

    #[test]
    fn options_filter_types_threshold_and_allow_list() {
        let a = Analyzer::shared_default();
        let text = "jane@example.com, help@example.com, 536-22-1234";
        let o = PiiOptions::parse(Some(
            r#"{"entities":["EMAIL_ADDRESS"],"allow":["help@example.com"]}"#,
        ))
        .unwrap();
        let got: Vec<_> = a
            .analyze_with(text, &o)
            .iter()
            .map(|s| s.value(text).to_string())
            .collect();
        assert_eq!(got, vec!["jane@example.com"]);
        let strict = PiiOptions::parse(Some(r#"{"threshold":0.9}"#)).unwrap();
        let types: Vec<_> = a
            .analyze_with(text, &strict)
            .iter()
            .map(|s| s.entity)
            .collect();
        assert_eq!(
            types,
            vec![EntityType::EmailAddress, EntityType::EmailAddress]
        );
    }

    /// A recognizer that counts the context lookups of [`Recognizer::boosted`].
    struct Counting {
        inner: super::super::PatternRecognizer,
        lookups: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Recognizer for Counting {
        fn entity(&self) -> EntityType {
            self.inner.entity()
        }
        fn find(&self, text: &str, out: &mut Vec<Candidate>) {
            self.inner.find(text, out)
        }
        fn find_unboosted(&self, text: &str, scan: &Scan, out: &mut Vec<Candidate>) {
            self.inner.find_unboosted(text, scan, out)
        }
        fn context_boost(&self) -> f64 {
            self.inner.context_boost()
        }
        fn boosted(&self, text: &str, c: &Candidate) -> f64 {
            self.lookups
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.boosted(text, c)
        }
    }

    /// A candidate whose score straddles the threshold is not looked up when a candidate
    /// that is surely kept overlaps it and comes first: it cannot be kept either way.
    #[test]
    fn dominated_candidates_are_not_looked_up() {
        let lookups = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let weak = Box::new(Counting {
            inner: super::super::PatternRecognizer::new(
                EntityType::CreditCard,
                r"\d{4}",
                |_, m| Some((m, 0.4)),
                &["card"],
                0.2,
            )
            .unwrap(),
            lookups: lookups.clone(),
        });
        let strong = fixed(EntityType::UsSsn, r"\d{4} \d{4}", || 0.9);
        let a = Analyzer::new(vec![strong, weak], 0.5);
        let count = std::sync::atomic::Ordering::Relaxed;
        for (text, expected, looked_up) in [
            // Both weak candidates lie in the strong one.
            ("card 1234 5678", vec![(EntityType::UsSsn, 5, 14)], 0),
            // Alone, each is looked up: raised to 0.6 by "card", or left at 0.4.
            ("card 1234", vec![(EntityType::CreditCard, 5, 9)], 1),
            ("x 1234", vec![], 1),
            // One lies in the strong span, the other is alone.
            (
                "card 1234 5678 and 4321",
                vec![(EntityType::UsSsn, 5, 14), (EntityType::CreditCard, 19, 23)],
                1,
            ),
        ] {
            lookups.store(0, count);
            let got: Vec<_> = a
                .redaction_spans(text, None)
                .iter()
                .map(|s| (s.entity, s.start, s.end))
                .collect();
            assert_eq!(got, expected, "{text:?}");
            assert_eq!(lookups.load(count), looked_up, "{text:?}");
            let exact: Vec<_> = a
                .analyze(text)
                .iter()
                .map(|s| (s.entity, s.start, s.end))
                .collect();
            assert_eq!(exact, expected, "{text:?}");
        }
    }

    /// A context word that flips which of two overlapping candidates is kept, or lifts one
    /// over the threshold: the deferred path must look it up.
    #[test]
    fn deferred_context_decides_overlaps_and_threshold() {
        let wide = Box::new(
            super::super::PatternRecognizer::new(
                EntityType::CreditCard,
                r"\d{4} \d{4}",
                |_, m| Some((m, 0.6)),
                &["card"],
                0.35,
            )
            .unwrap(),
        );
        let narrow = fixed(EntityType::UsSsn, r"\d{4}", || 0.9);
        let a = Analyzer::new(vec![narrow, wide], 0.5);
        for (text, expected) in [
            ("card 1234 5678", vec![(EntityType::CreditCard, 5, 14)]),
            (
                "x 1234 5678",
                vec![(EntityType::UsSsn, 2, 6), (EntityType::UsSsn, 7, 11)],
            ),
        ] {
            for spans in [a.analyze(text), a.redaction_spans(text, None)] {
                let got: Vec<_> = spans.iter().map(|s| (s.entity, s.start, s.end)).collect();
                assert_eq!(got, expected, "{text:?}");
            }
        }
        let weak = Box::new(
            super::super::PatternRecognizer::new(
                EntityType::UsSsn,
                r"\d{9}",
                |_, m| Some((m, 0.4)),
                &["ssn"],
                0.2,
            )
            .unwrap(),
        );
        let a = Analyzer::new(vec![weak], 0.5);
        assert_eq!(a.redaction_spans("ssn 536221234", None).len(), 1);
        assert!(a.redaction_spans("ref 536221234", None).is_empty());
        // Not near: the score is the base score, below the threshold.
        let strict = Analyzer::new(recognizers::builtin(), 0.99);
        assert!(strict.redaction_spans("call 212-555-0123", None).is_empty());
    }

    /// The deferred path keeps exactly the spans of the exact one, over generated texts
    /// and several thresholds, entity filters, allow lists and user patterns; its scores
    /// are at least the threshold and at most the exact ones.
    #[test]
    fn deferred_scores_keep_the_same_spans() {
        let a = Analyzer::shared_default();
        let zero = Analyzer::new(recognizers::builtin(), 0.0);
        let options: Vec<PiiOptions> = [
            r#"{}"#,
            r#"{"threshold":0.0}"#,
            r#"{"threshold":0.3}"#,
            r#"{"threshold":0.55}"#,
            r#"{"threshold":0.7}"#,
            r#"{"threshold":0.9}"#,
            r#"{"threshold":1.0}"#,
            r#"{"entities":["PHONE_NUMBER","US_SSN","DATE_TIME","CREDIT_CARD","IP_ADDRESS"]}"#,
            r#"{"allow":["536-22-1234","(212)"],"threshold":0.4}"#,
            r#"{"patterns":[{"name":"TICKET","regex":"\\d{3}-\\d{2}","score":0.8}],"deny":{"CODENAME":["Paris"]}}"#,
        ]
        .iter()
        .map(|o| PiiOptions::parse(Some(o)).unwrap())
        .collect();
        let mut texts = recognizers::test_util::random_texts(3000, 0x5851_F42D_4C95_7F2D);
        texts.extend(
            recognizers::test_util::random_texts(300, 0xA5A5)
                .iter()
                .map(|t| t.replace(' ', "")),
        );
        // Long texts, with more than `MANY` candidates each: overlaps are then looked up in
        // sorted order.
        texts.extend(
            recognizers::test_util::random_texts(2400, 0x10_0000_0000_0001)
                .chunks(40)
                .map(|c| c.join(" ")),
        );
        let key = |s: &PiiSpan| (s.entity, s.start, s.end, s.byte_start, s.byte_end);
        let same = |exact: &[PiiSpan], deferred: &[PiiSpan], threshold: f64, text: &str| {
            let keys: Vec<_> = exact.iter().map(key).collect();
            assert_eq!(
                keys,
                deferred.iter().map(key).collect::<Vec<_>>(),
                "{text:?}"
            );
            for (e, d) in exact.iter().zip(deferred) {
                assert!(d.score >= threshold && d.score <= e.score, "{text:?} {d:?}");
            }
        };
        let mut spans = 0;
        for text in &texts {
            let exact = a.analyze(text);
            same(&exact, &a.redaction_spans(text, None), a.threshold, text);
            spans += exact.len();
            same(
                &zero.analyze(text),
                &zero.redaction_spans(text, None),
                0.0,
                text,
            );
            for o in &options {
                let d = a.redaction_spans(text, Some(o));
                same(&a.analyze_with(text, o), &d, o.threshold, text);
            }
        }
        assert!(spans > 3000, "the texts should contain PII: {spans}");
    }

    /// [`keep_first_fits`] keeps what pushing each fitting candidate into a new list kept,
    /// comparing with each kept one or looking them up in a sorted set.
    #[test]
    fn first_fits_kept_in_place() {
        let mut next = recognizers::test_util::xorshift(0x1F83_D9AB_FB41_BD6B);
        for round in 0..6000 {
            let (n, width) = if round % 2 == 0 { (12, 30) } else { (120, 300) };
            let n = (next() % n) as usize;
            let candidates: Vec<Candidate> = (0..n)
                .map(|_| {
                    let start = (next() % width) as usize;
                    Candidate {
                        entity: EntityType::ALL[(next() % 4) as usize],
                        range: start..start + (next() % 8) as usize,
                        score: (next() % 10) as f64 / 10.0,
                    }
                })
                .collect();
            let mut expected: Vec<Candidate> = Vec::new();
            for c in candidates.clone() {
                if expected
                    .iter()
                    .all(|k| c.range.end <= k.range.start || k.range.end <= c.range.start)
                {
                    expected.push(c);
                }
            }
            for many in [0, usize::MAX] {
                let mut got = candidates.clone();
                keep_first_fits_with(&mut got, many);
                assert_eq!(got, expected, "many {many}");
            }
        }
    }

    #[test]
    fn dispatch_lets_through_every_recognizer_whose_needs_are_met() {
        let recognizers = recognizers::builtin();
        let needs: Vec<Needs> = recognizers.iter().map(|r| r.needs()).collect();
        let dispatch = Dispatch::new(&needs).expect("fewer than 64 built-in recognizers");
        let mut texts = recognizers::test_util::random_texts(2000, 0x7E57_D15B_A7C4_0001);
        texts.extend(
            [
                "",
                "ok",
                "12345678901234567890123",
                "٤٤٤٤٤٤٤٤",
                "a@b.c",
                "Friday",
            ]
            .map(String::from),
        );
        let mut skipped = 0;
        for text in &texts {
            let mut buf = Vec::new();
            let scan = Scan::new(text, &mut buf);
            let m = dispatch.candidates(&scan);
            for (i, n) in needs.iter().enumerate() {
                if n.met_by(&scan) {
                    assert!(m & (1 << i) != 0, "recognizer {i} skipped on {text:?}");
                } else {
                    skipped += usize::from(m & (1 << i) == 0);
                }
            }
        }
        // The tables do skip recognizers, not just let everything through.
        assert!(skipped > texts.len(), "{skipped}");
        let many = vec![Needs::NOTHING; 65];
        assert!(Dispatch::new(&many).is_none());
    }

    /// The class conditions checked at once answer as each recognizer's own check.
    #[test]
    fn classes_filter_as_each_needs_check() {
        let recognizers = recognizers::builtin();
        let needs: Vec<Needs> = recognizers.iter().map(|r| r.needs()).collect();
        let classes = Classes::new(&needs).expect("few classes");
        // SSN and ITIN state the same condition.
        assert_eq!(classes.bits.len(), 8);
        let mut texts = recognizers::test_util::random_texts(3000, 0x7E57_C1A5_5E50_0002);
        texts.extend(
            [
                "4111 1111 1111 1111",
                "536-22-1234",
                "tel (212) 555-0123 x12",
                "AB 12 34 56 C",
                "٤٤٤٤٤٤٤٤٤٤٤٤",
            ]
            .map(String::from),
        );
        let mut dropped = 0;
        for text in &texts {
            let mut buf = Vec::new();
            let scan = Scan::new(text, &mut buf);
            let m = classes.filter(&scan, u64::MAX);
            for (i, n) in needs.iter().enumerate() {
                let own =
                    n.class_digits == 0 || scan.window_digits_at_least(n.class, n.class_digits);
                assert_eq!(m & (1 << i) != 0, own, "recognizer {i} on {text:?}");
                assert_eq!(
                    n.met_by(&scan),
                    own && n.met_by_but_class(&scan),
                    "{text:?}"
                );
                dropped += usize::from(!own);
            }
        }
        assert!(dropped > texts.len(), "{dropped}");
    }

    #[test]
    fn more_than_64_recognizers_are_each_checked() {
        let many: Vec<Box<dyn Recognizer>> = (0..4).flat_map(|_| recognizers::builtin()).collect();
        assert!(many.len() > 64);
        let (one, four) = (Analyzer::default(), Analyzer::new(many, DEFAULT_THRESHOLD));
        assert!(four.dispatch.is_none());
        for text in recognizers::test_util::random_texts(300, 0x64) {
            assert_eq!(one.analyze(&text), four.analyze(&text), "{text:?}");
        }
    }

    #[test]
    fn builtin_bits_are_distinct() {
        let bits: Vec<u32> = EntityType::ALL.iter().map(|e| builtin_bit(*e)).collect();
        assert!(bits.iter().all(|b| b.count_ones() == 1));
        assert_eq!(
            bits.iter().fold(0, |m, b| m | b).count_ones() as usize,
            bits.len()
        );
        assert_eq!(builtin_bit(EntityType::custom("EMPLOYEE_ID").unwrap()), 0);
    }

    #[test]
    fn threshold_filters_weak_candidates() {
        let a = Analyzer::default();
        assert!(a.analyze("ref 536221234").is_empty());
        let strict = Analyzer::new(recognizers::builtin(), 0.99);
        assert!(strict.analyze("jane@example.com").is_empty());
    }
}
