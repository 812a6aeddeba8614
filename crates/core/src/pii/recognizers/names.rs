//! PERSON and LOCATION from the shipped dictionaries (see [`crate::pii::dictionaries`]) plus
//! capitalization and context cues. No model, nothing downloaded.
//!
//! PERSON: a run of capitalized words that starts with a known given name ("Maria Keller",
//! "John A. Smith"), or follows a title ("Dr. Okafor"), or ends in a known surname after
//! an unknown capitalized word ("Thandiwe Smith"). A given name alone scores low and
//! needs a context word ("name", "dear", "patient", …) to be reported.
//!
//! LOCATION: known countries, regions and cities as whole, capitalized words, and US-style
//! street addresses ("1600 Pennsylvania Avenue", "12 Baker St., Apt 4").

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, Anchored, MatchKind, StartKind};
use regex_automata::{meta, Input};

use super::is_space;
use crate::pii::dictionaries;
use crate::pii::recognizer::{compile, ContextWords, FnvBuild};
use crate::pii::{seed, ByteSet, Candidate, EntityType, Mark, Needs, Recognizer, Scan};

/// Words that raise a PERSON candidate's score when nearby.
const PERSON_CONTEXT: &[&str] = &[
    "name",
    "named",
    "called",
    "mr",
    "mrs",
    "ms",
    "dr",
    "dear",
    "hi",
    "hello",
    "thanks",
    "thank",
    "regards",
    "sincerely",
    "patient",
    "customer",
    "client",
    "employee",
    "contact",
    "signed",
    "by",
    "from",
    "wife",
    "husband",
    "son",
    "daughter",
    "mother",
    "father",
    "friend",
    "colleague",
    "manager",
    "author",
    "user",
];

/// Words that raise a LOCATION candidate's score when nearby.
const LOCATION_CONTEXT: &[&str] = &[
    "in",
    "at",
    "from",
    "to",
    "near",
    "city",
    "town",
    "country",
    "live",
    "lives",
    "lived",
    "living",
    "located",
    "address",
    "born",
    "visit",
    "visited",
    "moved",
    "travel",
    "traveled",
    "travelled",
    "based",
    "resident",
    "state",
    "province",
];

/// Titles before a name; the title itself is not part of the PERSON span.
const TITLES: &[&str] = &[
    "Mr",
    "Mrs",
    "Ms",
    "Miss",
    "Mx",
    "Dr",
    "Prof",
    "Professor",
    "Sir",
    "Dame",
    "Madam",
    "Madame",
    "Lady",
    "Lord",
    "Herr",
    "Frau",
    "Monsieur",
    "Mme",
    "Señor",
    "Señora",
    "Sr",
    "Sra",
];

/// Capitalized words that never continue a person's name.
const NOT_NAME_PARTS: &[&str] = &[
    "The",
    "A",
    "An",
    "And",
    "Or",
    "Of",
    "In",
    "On",
    "At",
    "To",
    "For",
    "From",
    "With",
    "By",
    "I",
    "We",
    "You",
    "He",
    "She",
    "They",
    "It",
    "My",
    "Our",
    "Your",
    "His",
    "Her",
    "Their",
    "This",
    "That",
    "Is",
    "Was",
    "Has",
    "Had",
    "Will",
    "Can",
    "Street",
    "St",
    "Avenue",
    "Ave",
    "Road",
    "Rd",
    "Inc",
    "LLC",
    "Ltd",
    "Corp",
    "Co",
    "Company",
    "Group",
    "Bank",
    "University",
    "College",
    "School",
    "Hospital",
    "Hotel",
    "Airport",
    "Station",
    "Park",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "Dear",
    "Hi",
    "Hello",
    "Thanks",
    "Regards",
    "Apt",
    "Suite",
    "Unit",
    "Loop",
    "Bypass",
    "Flat",
    "Flats",
    "Cliffs",
    "Lodge",
    "Union",
    "Pass",
    "Extension",
    "Extensions",
    "Fort",
    "Investments",
    "Holdings",
    "Partners",
    "Associates",
    "Sons",
    "Plc",
    "AG",
    "SA",
    "GmbH",
    "Boulevard",
    "Lane",
    "Drive",
    "Court",
    "Crescent",
    "Terrace",
    "Plaza",
    "Square",
    // First words of place names ("San Bernardino", "Santa Cruz", "Lake Placid").
    "San",
    "Santa",
    "Santo",
    "São",
    "Los",
    "Las",
    "Saint",
    "Sainte",
    "Mount",
    "Lake",
    "Port",
    "Upper",
    "Lower",
    "North",
    "South",
    "East",
    "West",
    "New",
    // Greetings' addressees that are not names ("Dear Customer", "Hello World").
    "Customer",
    "Customers",
    "Team",
    "All",
    "Everyone",
    "Everybody",
    "World",
    "Friend",
    "Friends",
    "Colleague",
    "Colleagues",
    "Valued",
    "Member",
    "Members",
    "Client",
    "Clients",
    "Student",
    "Students",
    "Parent",
    "Parents",
    "User",
    "Users",
    "Reader",
    "Readers",
    "Applicant",
    "Candidate",
    "Hiring",
    "Manager",
    "Support",
    "There",
    "Guest",
    "Guests",
    "Folks",
    "Sirs",
];

/// Words after which a capitalized run is a name even when no list knows it: "My name is
/// Zorwen Kadlubek", "Name: Tovrin Osk", "was called Brisla Oventa", "Dear Qelvin", "says
/// Kadlubek". Between the word and the run only spaces, one ':' or '?', and one "is" or
/// "was" may stand.
const NAME_CUES: &[&str] = &[
    "name", "named", "called", "dear", "hi", "hello", "hey", "says", "said",
];

/// Score of a run after one of [`NAME_CUES`].
const CUED: f64 = 0.6;

/// Score of an unknown word listed next to a name (see [`list_separator`]).
const LISTED: f64 = 0.5;

/// Bits of [`NameTables::kinds`]: the lists a word is in.
const FIRST: u8 = 1;
const LAST: u8 = 1 << 1;
const TITLE: u8 = 1 << 2;
const NOT_PART: u8 = 1 << 3;
const WORD: u8 = 1 << 4;
/// In a [`PersonRecognizer::find_words`] memo: not looked up yet.
const UNKNOWN: u8 = 1 << 7;

/// The lists of [`NameTables::kinds`], with their bits.
fn name_lists() -> [(&'static [&'static str], u8); 7] {
    [
        (dictionaries::first_names(), FIRST),
        (dictionaries::census_first_names(), FIRST),
        (dictionaries::last_names(), LAST),
        (dictionaries::census_last_names(), LAST),
        (TITLES, TITLE),
        (NOT_NAME_PARTS, NOT_PART),
        (dictionaries::common_word_names(), WORD),
    ]
}

struct NameTables {
    /// For every word in one of the given-name, surname, title and not-a-name lists, the
    /// bits of the lists it is in: one lookup answers all four.
    kinds: HashMap<&'static str, u8, FnvBuild>,
    person_context: ContextWords,
    location_context: ContextWords,
}

impl NameTables {
    /// The list bits of `word` (0: in none).
    fn kinds(&self, word: &str) -> u8 {
        self.kinds.get(word).copied().unwrap_or(0)
    }
}

fn tables() -> &'static NameTables {
    static T: OnceLock<NameTables> = OnceLock::new();
    T.get_or_init(|| {
        let mut kinds: HashMap<&'static str, u8, FnvBuild> = HashMap::default();
        for (list, bit) in name_lists() {
            for w in list {
                *kinds.entry(w).or_default() |= bit;
            }
        }
        NameTables {
            kinds,
            person_context: ContextWords::new(PERSON_CONTEXT),
            location_context: ContextWords::new(LOCATION_CONTEXT),
        }
    })
}

/// A word: letters, with inner apostrophes and hyphens ("O'Brien", "Jean-Luc").
#[derive(Debug, Clone, Copy)]
struct Word {
    start: usize,
    end: usize,
    /// Starts upper-case and is not all upper-case (unless one letter long).
    capitalized: bool,
    /// A single capital followed by '.', e.g. the "A." of "John A. Smith" (end includes '.').
    initial: bool,
}

/// The words of `text`, appended to `out`.
#[cfg(test)]
fn words(text: &str, out: &mut Vec<Word>) {
    if text.is_ascii() {
        ascii_words(text.as_bytes(), out)
    } else {
        char_words(text, out)
    }
}

/// The capitalized words of `text` (see [`Word::capitalized`]; initials are capitalized),
/// appended to `out`: the words of [`words`] that [`PersonRecognizer::find_words`] can
/// start or continue a name with.
fn capitalized_words(text: &str, out: &mut Vec<Word>) {
    if text.is_ascii() {
        ascii_capitalized_words(text.as_bytes(), out)
    } else {
        let from = out.len();
        char_words(text, out);
        let mut k = from;
        for i in from..out.len() {
            if out[i].capitalized {
                out[k] = out[i];
                k += 1;
            }
        }
        out.truncate(k);
    }
}

/// The word of ASCII text `b` whose first letter is at `start`: where it ends (letters, and
/// `'` or `-` between two letters), its number of letters, and whether every letter after
/// the first is a capital.
fn ascii_word_from(b: &[u8], start: usize) -> (usize, usize, bool) {
    let mut i = start + 1;
    let mut upper_rest = true;
    let mut letters = 1;
    loop {
        match b.get(i) {
            Some(d) if d.is_ascii_alphabetic() => {
                upper_rest &= d.is_ascii_uppercase();
                letters += 1;
                i += 1;
            }
            Some(b'\'' | b'-') if b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) => i += 1,
            _ => break,
        }
    }
    (i, letters, upper_rest)
}

/// [`ascii_words`] keeping the capitalized words only, without reading the others word by
/// word: a capitalized word starts with a capital, and whether a letter starts a word is
/// decided by the two bytes before it (a letter at `p` continues a word when `p - 1` is a
/// letter, or an inner `'` or `-` after a letter at `p - 2`; any other letter starts one).
/// So only the capitals are looked at, and the words they start are read to their end.
fn ascii_capitalized_words(b: &[u8], out: &mut Vec<Word>) {
    let mut i = 0;
    loop {
        // ASCII text: the next capital.
        i = next_upper_or_non_ascii(b, i);
        if i >= b.len() {
            break;
        }
        let starts = i == 0
            || !(b[i - 1].is_ascii_alphabetic()
                || (matches!(b[i - 1], b'\'' | b'-') && i >= 2 && b[i - 2].is_ascii_alphabetic()));
        let start = i;
        let (end, letters, upper_rest) = ascii_word_from(b, start);
        i = end;
        let capitalized = letters == 1 || !upper_rest;
        if !starts || !capitalized {
            // Inside a word (the rest of it holds no word start), or not capitalized.
            continue;
        }
        let initial = letters == 1 && b.get(end) == Some(&b'.');
        out.push(Word {
            start,
            end: if initial { end + 1 } else { end },
            capitalized: true,
            initial,
        });
    }
}

/// [`words`] for any text, character by character.
fn char_words(text: &str, out: &mut Vec<Word>) {
    let mut it = text.char_indices().peekable();
    while let Some((start, c)) = it.next() {
        if !c.is_alphabetic() {
            continue;
        }
        let mut end = start + c.len_utf8();
        let mut upper_rest = true;
        let mut letters = 1;
        while let Some(&(i, d)) = it.peek() {
            if d.is_alphabetic() {
                upper_rest &= d.is_uppercase();
                letters += 1;
                end = i + d.len_utf8();
                it.next();
            } else if matches!(d, '\'' | '’' | '-') {
                // Inner only: followed by a letter.
                let mut ahead = it.clone();
                ahead.next();
                match ahead.peek() {
                    Some(&(_, e)) if e.is_alphabetic() => {
                        it.next();
                    }
                    _ => break,
                }
            } else {
                break;
            }
        }
        let initial = letters == 1 && c.is_uppercase() && text[end..].starts_with('.');
        out.push(Word {
            start,
            end: if initial { end + 1 } else { end },
            capitalized: c.is_uppercase() && (letters == 1 || !upper_rest),
            initial,
        });
        if initial {
            it.next(); // the '.'
        }
    }
}

/// [`words`] for ASCII text, byte by byte (the same words: letters are ASCII letters, the
/// inner joiners `'` and `-`).
#[cfg(test)]
fn ascii_words(b: &[u8], out: &mut Vec<Word>) {
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !c.is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        let (end, letters, upper_rest) = ascii_word_from(b, start);
        i = end;
        let initial = letters == 1 && c.is_ascii_uppercase() && b.get(end) == Some(&b'.');
        out.push(Word {
            start,
            end: if initial { end + 1 } else { end },
            capitalized: c.is_ascii_uppercase() && (letters == 1 || !upper_rest),
            initial,
        });
        if initial {
            i += 1; // the '.'
        }
    }
}

/// The first index at or after `i` of an ASCII capital or a byte >= 0x80 in `b`
/// (`b.len()` if none), eight bytes at a time: in a word `w` with the high bits cleared,
/// adding 0x3F to a byte carries into its high bit when the byte is at least `A`, adding
/// 0x25 when it is past `Z`, and no byte carries into the next one.
fn next_upper_or_non_ascii(b: &[u8], mut i: usize) -> usize {
    const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = !LOW;
    while i + 8 <= b.len() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&b[i..i + 8]);
        let w = u64::from_le_bytes(bytes);
        let low = w & LOW;
        let at_least_a = low + 0x3F3F_3F3F_3F3F_3F3F;
        let past_z = low + 0x2525_2525_2525_2525;
        let found = (w | (at_least_a & !past_z)) & HIGH;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !(b[i].is_ascii_uppercase() || b[i] >= 0x80) {
        i += 1;
    }
    i
}

/// Whether only spaces or tabs (one to three) lie between two words.
fn adjacent(text: &str, a: &Word, b: &Word) -> bool {
    let gap = &text[a.end..b.start];
    !gap.is_empty() && gap.len() <= 3 && gap.bytes().all(|c| c == b' ' || c == b'\t')
}

/// Whether `pos` starts a sentence: only spaces or quotes back to the text's start, a line
/// break, or sentence punctuation.
fn sentence_start(text: &str, pos: usize) -> bool {
    match text[..pos]
        .chars()
        .rev()
        .find(|c| !matches!(c, ' ' | '\t' | '"' | '\'' | '“' | '‘' | '(' | '*' | '-'))
    {
        None => true,
        Some(c) => matches!(c, '.' | '!' | '?' | '\n' | '\r' | ':' | ';'),
    }
}

/// Whether `gap` joins two items of a list: ", ", " and ", ", and " or " & ".
fn list_separator(gap: &str) -> bool {
    matches!(gap, ", " | " and " | ", and " | " & ")
}

/// `word` without a final possessive "'s" ("Okonkwo's" → "Okonkwo").
fn without_possessive(word: &str) -> &str {
    word.strip_suffix("'s")
        .or_else(|| word.strip_suffix("’s"))
        .filter(|w| !w.is_empty())
        .unwrap_or(word)
}

/// Whether one of [`NAME_CUES`] stands right before `pos` (see there). ASCII only: the
/// cue words are ASCII, and a non-ASCII letter glued to one makes it another word.
fn name_cue_before(text: &str, pos: usize) -> bool {
    let b = &text.as_bytes()[..pos];
    let blank = |c: &u8| *c == b' ' || *c == b'\t';
    let skip_blanks = |mut k: usize| {
        while k > 0 && blank(&b[k - 1]) {
            k -= 1;
        }
        k
    };
    // The word ending at `end`, if a blank, a line break or punctuation stands before it.
    let word_before = |end: usize| -> Option<(usize, &[u8])> {
        let mut start = end;
        while start > 0 && b[start - 1].is_ascii_alphabetic() {
            start -= 1;
        }
        let standalone =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] >= 0x80);
        (start < end && standalone).then(|| (start, &b[start..end]))
    };
    let mut k = skip_blanks(pos);
    if k > 0 && matches!(b[k - 1], b':' | b'?') {
        k = skip_blanks(k - 1);
    }
    let Some((start, mut w)) = word_before(k) else {
        return false;
    };
    if w.eq_ignore_ascii_case(b"is") || w.eq_ignore_ascii_case(b"was") {
        let k = skip_blanks(start);
        if k == start {
            return false;
        }
        match word_before(k) {
            Some((_, v)) => w = v,
            None => return false,
        }
    }
    NAME_CUES
        .iter()
        .any(|c| w.eq_ignore_ascii_case(c.as_bytes()))
}

/// The ASCII capitals and the bytes of non-ASCII characters: a text without any has no
/// capitalized word, and LOCATION finds nothing in it.
fn upper_or_non_ascii() -> &'static ByteSet {
    static SET: OnceLock<ByteSet> = OnceLock::new();
    SET.get_or_init(|| ByteSet::matching(|b| b.is_ascii_uppercase() || b >= 0x80))
}

/// PERSON recognizer.
pub struct PersonRecognizer;

pub fn person() -> PersonRecognizer {
    PersonRecognizer
}

impl Recognizer for PersonRecognizer {
    fn entity(&self) -> EntityType {
        EntityType::Person
    }

    /// Texts without an ASCII capital or a non-ASCII byte have no capitalized word:
    /// skipped from the scan's byte set.
    fn find_in(&self, text: &str, scan: &Scan, out: &mut Vec<Candidate>) {
        if scan.bytes.intersects(upper_or_non_ascii()) {
            self.find(text, out)
        }
    }

    fn needs(&self) -> Needs {
        Needs {
            bytes: Some(*upper_or_non_ascii()),
            ..Needs::NOTHING
        }
    }

    fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        thread_local! {
            /// The words buffer and its list-bits memo, reused across texts.
            static WORDS: std::cell::RefCell<(Vec<Word>, Vec<u8>)> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        // Taken out of the cell (not borrowed), so a nested call cannot conflict.
        let (mut ws, mut memo) = WORDS.with(|w| w.take());
        ws.clear();
        capitalized_words(text, &mut ws);
        memo.clear();
        memo.resize(ws.len(), UNKNOWN);
        self.find_words(text, &ws, &mut memo, out);
        WORDS.with(|w| w.replace((ws, memo)));
    }
}

impl PersonRecognizer {
    /// `ws` are the text's capitalized words ([`capitalized_words`]): a name starts and
    /// continues only with those, and any other word between two of them makes the gap
    /// between them fail both the title check and [`adjacent`], just as meeting that word
    /// in the list of all words would end the name there. `memo` (one entry per word,
    /// [`UNKNOWN`] at first) keeps the list bits of the words looked up, so that each word
    /// is hashed once however many lists are asked about it.
    fn find_words(&self, text: &str, ws: &[Word], memo: &mut [u8], out: &mut Vec<Candidate>) {
        let t = tables();
        let word = |w: &Word| without_possessive(text[w.start..w.end].trim_end_matches('.'));
        // The list bits of word `k`.
        let mut kinds = |k: usize| {
            if memo[k] == UNKNOWN {
                memo[k] = t.kinds(word(&ws[k]));
            }
            memo[k]
        };
        let first_found = out.len();
        let mut i = 0;
        while i < ws.len() {
            let w = ws[i];
            if !w.capitalized || w.initial || kinds(i) & (NOT_PART | TITLE) != 0 {
                i += 1;
                continue;
            }
            // "Dr. Okafor", "Mrs Smith": the previous word is a title, with an optional '.'.
            let after_title = i > 0 && {
                let p = ws[i - 1];
                let gap = &text[p.end..w.start];
                kinds(i - 1) & TITLE != 0 && matches!(gap, " " | ". " | "  ")
            };
            let is_first = kinds(i) & FIRST != 0;
            // Extend over following name parts: capitalized words or initials.
            let mut j = i + 1;
            while j < ws.len() && j < i + 4 {
                let n = ws[j];
                if !adjacent(text, &ws[j - 1], &n)
                    || !n.capitalized
                    || (!n.initial && kinds(j) & (NOT_PART | TITLE) != 0)
                {
                    break;
                }
                j += 1;
            }
            // Do not end on an initial.
            while j > i + 1 && ws[j - 1].initial {
                j -= 1;
            }
            let parts = j - i;
            let ends_in_surname = parts >= 2 && kinds(j - 1) & LAST != 0;
            // "Ulvar D. Kestrin", "Ulvar D Kestrin": a single capital between two words.
            let middle_initial = parts == 3
                && text[ws[i + 1].start..ws[i + 1].end]
                    .trim_end_matches('.')
                    .len()
                    == 1;
            // A capital at a sentence start says nothing; inside a sentence it marks a name.
            let mid_sentence = !sentence_start(text, w.start);
            let score = if is_first && ends_in_surname {
                Some(0.85)
            } else if after_title {
                Some(0.8)
            } else if is_first && parts >= 2 {
                Some(0.65)
            } else if parts == 2 && ends_in_surname {
                // An unknown capitalized word, then a known surname.
                Some(0.6)
            } else if middle_initial {
                Some(0.55)
            } else if parts == 1 && (is_first || kinds(i) & LAST != 0) {
                // A known name alone.
                // At a sentence start a capital says nothing, but a given name that is not
                // also a common word ("Kevin went", not "Mark the date") is still likely one.
                let plain_given_name = is_first && kinds(i) & WORD == 0;
                Some(if mid_sentence || plain_given_name {
                    0.5
                } else {
                    0.35
                })
            } else {
                None
            };
            let last = &text[ws[j - 1].start..ws[j - 1].end];
            let range = w.start..ws[j - 1].start + without_possessive(last).len();
            let score = score.map(|s| t.person_context.boosted(text, &range, s, 0.3));
            // A cue right before makes any run a name. The cue words are context words
            // too, but count once: a place after "called" keeps its higher LOCATION score.
            let score = match score {
                Some(s) if s >= CUED => s,
                _ if name_cue_before(text, w.start) => CUED,
                Some(s) => s,
                // One unknown word listed with a name: "Zorwen, Hannah and Anthony",
                // "Kadlubek and Murphy".
                None if parts == 1
                    && {
                        let after_name = out[first_found..].last().is_some_and(|c| {
                            c.score >= 0.5
                                && c.range.end <= w.start
                                && list_separator(&text[c.range.end..w.start])
                        });
                        after_name
                            || (j < ws.len()
                                && list_separator(&text[ws[j - 1].end..ws[j].start])
                                && !ws[j].initial
                                && kinds(j) & (FIRST | LAST) != 0
                                && kinds(j) & (WORD | NOT_PART | TITLE) == 0)
                    }
                    && !word(&w).contains(['\'', '’']) =>
                {
                    LISTED
                }
                None => {
                    i += 1;
                    continue;
                }
            };
            out.push(Candidate {
                entity: EntityType::Person,
                range,
                score,
            });
            i = j;
        }
    }
}

/// Kinds of place names, by pattern id ranges in the automaton.
struct Places {
    /// The hand-written place names (countries, regions, cities), leftmost-longest, for
    /// anchored searches.
    automaton: AhoCorasick,
    /// The GeoNames towns ([`dictionaries::geonames_places`]) of eight bytes or more, by
    /// their first eight, longest first; `short_towns`, the others (every town has at
    /// least four): read by [`Places::longest_town`]. Its 68k names are filed in a few
    /// milliseconds, where an Aho-Corasick automaton over them took ~90 ms and 5 MB.
    long_towns: HashMap<[u8; 8], Vec<&'static str>, FnvBuild>,
    short_towns: HashSet<&'static [u8], FnvBuild>,
    /// The first four bytes of every town in `short_towns`, hashed to bits as in
    /// `prefixes`: most starts skip their four lookups.
    short_prefixes: Box<[u64; PREFIX_WORDS]>,
    /// Whether each byte is the first byte of a place name: where a match can start.
    first: [bool; 256],
    /// Score of each pattern of `automaton` (countries score higher than cities, which are
    /// more often also surnames or words).
    scores: Vec<f64>,
    /// The first four bytes of every name (all of a shorter one), hashed to bits: see
    /// [`Places::may_start`].
    prefixes: Box<[u64; PREFIX_WORDS]>,
    /// Bit `n` set when some name is `n` bytes long, for `n` of 1 to 3.
    short_lengths: u8,
}

/// Size of [`Places::prefixes`] in words: 2^18 bits, a few percent of them set.
const PREFIX_WORDS: usize = 1 << 12;

/// Hash of a name prefix of one to four bytes, to a bit of [`Places::prefixes`].
fn prefix_bit(p: &[u8]) -> usize {
    let mut h = p.len() as u32;
    for &b in p {
        h = (h ^ u32::from(b)).wrapping_mul(0x9E37_79B1);
    }
    (h >> 14) as usize
}

/// Whether `p`'s [`prefix_bit`] is set in `bits`.
fn bit_set(bits: &[u64; PREFIX_WORDS], p: &[u8]) -> bool {
    let bit = prefix_bit(p);
    bits[bit / 64] & (1 << (bit % 64)) != 0
}

/// Sets `p`'s [`prefix_bit`] in `bits`.
fn set_bit(bits: &mut [u64; PREFIX_WORDS], p: &[u8]) {
    let bit = prefix_bit(p);
    bits[bit / 64] |= 1 << (bit % 64);
}

impl Places {
    /// Whether a name can start at `s` of `b`: a name of four bytes or more starts with
    /// `b[s..s + 4]`, a shorter one is all of `b[s..s + n]`, so the hash of one of these
    /// must be set. Most capitals fail this, and the anchored search is not run there.
    fn may_start(&self, b: &[u8], s: usize) -> bool {
        let set = |p: &[u8]| bit_set(&self.prefixes, p);
        (s + 4 <= b.len() && set(&b[s..s + 4]))
            || (1..4).any(|n| {
                self.short_lengths & (1 << n) != 0 && s + n <= b.len() && set(&b[s..s + n])
            })
    }

    /// The length of the longest GeoNames town that `b` starts with.
    fn longest_town(&self, b: &[u8]) -> Option<usize> {
        let long = b
            .get(..8)
            .and_then(|k| self.long_towns.get(<&[u8; 8]>::try_from(k).ok()?))
            .and_then(|bucket| bucket.iter().find(|t| b.starts_with(t.as_bytes())));
        match long {
            Some(t) => Some(t.len()),
            None if b.len() >= 4 && bit_set(&self.short_prefixes, &b[..4]) => (4..8)
                .rev()
                .find(|&n| b.get(..n).is_some_and(|p| self.short_towns.contains(p))),
            None => None,
        }
    }

    /// The place names in `text` that an unanchored leftmost-longest search over both lists
    /// reports, in order (non-overlapping; a match that [`boundary_ok`] later rejects still
    /// hides the ones overlapping it): at each byte that can start a name, from left to
    /// right, the longest name starting there — the longer of `automaton`'s anchored match
    /// and [`Places::longest_town`] (the lists share no name) — and the next search starts
    /// after it. Only the few bytes that start a name (capitals, mostly) are searched
    /// from, instead of running the automaton over the whole text.
    fn find_iter<'t>(&'t self, text: &'t str) -> impl Iterator<Item = PlaceMatch> + 't {
        let b = text.as_bytes();
        let mut pos = 0;
        std::iter::from_fn(move || {
            while pos < b.len() {
                // Every name starts with a capital (ASCII, or a non-ASCII character).
                let s = next_upper_or_non_ascii(b, pos);
                if s >= b.len() {
                    return None;
                }
                if !self.first[usize::from(b[s])] || !self.may_start(b, s) {
                    pos = s + 1;
                    continue;
                }
                let input = aho_corasick::Input::new(text)
                    .span(s..b.len())
                    .anchored(Anchored::Yes);
                // An anchored search cannot fail otherwise: the automaton is built for them.
                let listed = self.automaton.try_find(input).ok().flatten();
                let town = self.longest_town(&b[s..]).map(|n| s + n);
                let found = match (listed, town) {
                    (Some(m), Some(end)) if end > m.end() => Some(PlaceMatch {
                        range: s..end,
                        pattern: None,
                    }),
                    (Some(m), _) => Some(PlaceMatch {
                        range: m.range(),
                        pattern: Some(m.pattern().as_usize()),
                    }),
                    (None, Some(end)) => Some(PlaceMatch {
                        range: s..end,
                        pattern: None,
                    }),
                    (None, None) => None,
                };
                match found {
                    Some(m) => {
                        pos = m.range.end;
                        return Some(m);
                    }
                    None => pos = s + 1,
                }
            }
            None
        })
    }
}

/// A place name found by [`Places::find_iter`]: `pattern`, its id in `Places::automaton`,
/// or None for a GeoNames town.
struct PlaceMatch {
    range: Range<usize>,
    pattern: Option<usize>,
}

/// Score of a GeoNames town (see [`dictionaries::geonames_places`]): below the hand-written
/// cities, since the long list holds more names that are also words or names elsewhere.
const GEONAMES_SCORE: f64 = 0.55;

fn places() -> &'static Places {
    static P: OnceLock<Places> = OnceLock::new();
    P.get_or_init(|| {
        let mut patterns: Vec<&'static str> = Vec::new();
        let mut scores = Vec::new();
        for (list, score) in [
            (dictionaries::countries(), 0.8),
            (dictionaries::regions(), 0.7),
            (dictionaries::cities(), 0.65),
        ] {
            for p in list {
                patterns.push(p);
                scores.push(score);
            }
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .start_kind(StartKind::Anchored)
            .build(&patterns)
            .expect("place automaton builds");
        let mut long_towns: HashMap<[u8; 8], Vec<&'static str>, FnvBuild> = HashMap::default();
        let mut short_towns: HashSet<&'static [u8], FnvBuild> = HashSet::default();
        for &t in dictionaries::geonames_places() {
            match t
                .as_bytes()
                .get(..8)
                .and_then(|k| <[u8; 8]>::try_from(k).ok())
            {
                Some(key) => long_towns.entry(key).or_default().push(t),
                // Four to seven bytes (`town_list_is_apart_from_the_place_lists`).
                None => {
                    short_towns.insert(t.as_bytes());
                }
            }
        }
        let mut short_prefixes = Box::new([0u64; PREFIX_WORDS]);
        for t in &short_towns {
            set_bit(&mut short_prefixes, &t[..4]);
        }
        for names in long_towns.values_mut() {
            names.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
            names.dedup();
        }
        let all = || patterns.iter().chain(dictionaries::geonames_places());
        let mut first = [false; 256];
        for p in all() {
            if let Some(&b) = p.as_bytes().first() {
                // Every entry starts with a capital (the dictionaries' test), which
                // `find_iter` relies on: anything else could never be found.
                first[usize::from(b)] = b.is_ascii_uppercase() || b >= 0x80;
            }
        }
        let mut prefixes = Box::new([0u64; PREFIX_WORDS]);
        let mut short_lengths = 0;
        for p in all() {
            let p = p.as_bytes();
            set_bit(&mut prefixes, &p[..p.len().min(4)]);
            if (1..4).contains(&p.len()) {
                short_lengths |= 1 << p.len();
            }
        }
        Places {
            automaton,
            long_towns,
            short_towns,
            short_prefixes,
            first,
            scores,
            prefixes,
            short_lengths,
        }
    })
}

/// LOCATION recognizer: place names and street addresses.
pub struct LocationRecognizer {
    street: meta::Regex,
}

/// Street types after the name ("Main Street"): the common USPS suffixes.
const STREET_TYPES: &str = "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Parkway|Pkwy|Highway|Hwy|Square|Sq|Circle|Cir|Trail|Trl|Crescent|Close|Gardens?|Row|Plaza|Loop|Pike|Alley|Bypass|Causeway|Cove|Creek|Crossing|Expressway|Extensions?|Falls|Ferry|Freeway|Glen|Greens?|Grove|Harbor|Heights|Hills?|Hollow|Junction|Knolls?|Landing|Manor|Meadows?|Mews|Mills?|Orchard|Oval|Pass|Path|Point|Ridge|Route|Run|Shores?|Springs?|Summit|Turnpike|Valley|View|Walk|Wells?";

/// Street words before the name ("Rua Mina 50", "Via Tasso 129").
const STREET_PREFIXES: &str = "Rua|Rúa|Via|Viale|Piazza|Piazzetta|Calle|Carrer|Avenida|Avda|Av|Paseo|Plaza|Rue|Boulevard|Chemin|Strada|Ulica|Ul|ul|Allee|Avinguda|Travessa|Largo";

/// Lower-case words inside a street name after a prefix ("Rua do Porto", "Via delle
/// Coste", "Rue de la Paix").
const STREET_LINKS: &str = "d[aeiou]s?|de[ils]|della|delle|dello|degli|la|le|les|e|y";

/// Street-name endings in one word ("Strickstrasse 61", "Populierenstraat 374").
const STREET_ENDINGS: &str = "stra(?:ss|ß)e|str\\.|weg|gasse|platz|allee|damm|gatan|vägen|gränd|vej|veien|vegen|gata|straat|laan|gracht|plein|katu|tie|kuja|utca|ulica|cesta|iela|gatve|gade|vænget|stræde|stien|braut|stræti|straeti|vegur";

pub fn location() -> LocationRecognizer {
    LocationRecognizer {
        street: compile(&street_pattern()).expect("street pattern compiles"),
    }
}

/// The street shapes, as one alternation (one scan; the longest shape first).
fn street_pattern() -> String {
    let street = [
        // "1600 Pennsylvania Avenue, Apt 4", also after a building number ("17 1600 …")
        format!(
            r"\b(?:\d{{1,6}}[ \t]+)?\d{{1,6}}[A-Za-z]?(?:\s+[A-Z][\p{{L}}'’.-]*){{1,4}}\s+(?:{STREET_TYPES})\b\.?(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit)\.?\s*#?\d+[A-Za-z]?)?"
        ),
        // A building number before a street written name first, then how an address
        // goes on: "17 Kettuvaarankatu 82 Apt. 5", "12 Via Tasso 129, Tarvisio",
        // "5 Kossuth tér 19.\nGYÖR". Without that continuation a number, capitalized words
        // and a number are too often something else ("Top 5 Songs 2"). A month name as the
        // first word is a date, "12 March 2024, Bonn": see `LocationRecognizer::find_in`.
        r"\b\d{1,6}[ \t]+\p{Lu}[\p{L}'’.-]+(?:[ \t]+[\p{L}'’.-]+){0,3}[ \t]+\d{1,5}\b\.?(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit)\b\.?\s*#?\d+[A-Za-z]?|,[ \t]*\p{Lu}[\p{L}'’.-]*|[ \t]*\r?\n[ \t]*\p{Lu}[\p{L}'’.-]*)"
            .to_string(),
        // "Rua Mina 50", "Via Tasso 129", "Rua do Porto 16", "ul. Lipowa 8"
        format!(
            r"\b(?:{STREET_PREFIXES})\.?(?:\s+(?:{STREET_LINKS}))?(?:\s+[\p{{Lu}}][\p{{L}}'’.-]*)(?:\s+(?:[\p{{Lu}}][\p{{L}}'’.-]*|{STREET_LINKS})){{0,3}},?\s+\d{{1,5}}[A-Za-z]?\b"
        ),
        // "Strickstrasse 61"
        format!(r"\b[\p{{Lu}}][\p{{L}}-]*(?:{STREET_ENDINGS})\.?\s+\d{{1,5}}[A-Za-z]?\b"),
        // Apartment or suite numbers, P.O. boxes, US military addresses (unit, ship)
        r"\b(?:Apt|Apartment|Suite|Ste)\.?\s*#?\d{1,5}[A-Za-z]?\b".to_string(),
        r"\bP\.?\s?O\.?\s+Box\s+\d{1,6}\b".to_string(),
        r"\b(?:PSC|CMR|Unit)\s+\d{3,5},?\s+Box\s+\d{3,5}(?:\s+[ADF]PO\s+A[AEP]\s+\d{5})?"
            .to_string(),
        r"\b(?:USNS|USNV|USS|USCGC)[ \t]+\p{Lu}[\p{L}'’.-]*(?:[ \t]+\p{Lu}[\p{L}'’.-]*)?,?\s+[DF]PO\s+A[AEP]\s+\d{5}\b"
            .to_string(),
    ];
    street
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|")
}

/// Whether a street shape can match in `text`, from its digit runs (`marks`): some run
/// either starts one ("1600 Pennsylvania …": an optional letter, spaces, then a capital)
/// or ends one (after a space: "Rua Mina 50", "Strickstrasse 61", "Box 12"; or after
/// "Apt", "Apartment", "Suite" or "Ste" with an optional '.', spaces and '#'). Non-ASCII
/// digits, and non-ASCII bytes where a space or capital could be, count as possible.
fn street_possible(text: &[u8], marks: &[Mark]) -> bool {
    let space = |b: Option<&u8>| b.is_some_and(|&b| is_space(b) || b >= 0x80);
    let keyword_before = |end: usize| {
        ["Apt", "Apartment", "Suite", "Ste"]
            .iter()
            .any(|k| text[..end].ends_with(k.as_bytes()))
    };
    for m in marks.iter().filter(|m| m.kinds & seed::DIGITS != 0) {
        let (start, end) = (m.start, m.end);
        if !text[start..end].is_ascii() {
            return true;
        }
        let mut j = end;
        if text.get(j).is_some_and(u8::is_ascii_alphabetic) {
            j += 1;
        }
        if space(text.get(j)) {
            while space(text.get(j)) {
                j += 1;
            }
            if text
                .get(j)
                .is_some_and(|&b| b.is_ascii_uppercase() || b >= 0x80)
            {
                return true;
            }
        }
        if start > 0 {
            if space(text.get(start - 1)) {
                return true;
            }
            let mut k = start;
            if text[k - 1] == b'#' {
                k -= 1;
                while k > 0 && space(text.get(k - 1)) {
                    k -= 1;
                }
            }
            if k > 0 && text[k - 1] == b'.' {
                k -= 1;
            }
            if keyword_before(k) {
                return true;
            }
        }
    }
    false
}

impl LocationRecognizer {
    /// Street addresses in `text`, in order, without overlaps: the street pattern's matches,
    /// searched only when [`street_possible`].
    fn streets(&self, text: &str, scan: &Scan) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        if !street_possible(text.as_bytes(), scan.marks()) {
            return out;
        }
        let mut pos = 0;
        while pos < text.len() {
            let Some(m) = self.street.search(&Input::new(text).span(pos..text.len())) else {
                break;
            };
            out.push(m.range());
            pos = m.end().max(m.start() + 1);
        }
        out
    }
}

/// Whether `street` is a number followed by a month name ("12 March 2024", "3 Sept 12"):
/// a date, not a building number and a street.
fn month_after_number(street: &str) -> bool {
    let rest = street.trim_start_matches(|c: char| c.is_ascii_digit());
    if rest.len() == street.len() {
        return false;
    }
    let rest = rest.trim_start_matches([' ', '\t']);
    let word = &rest[..rest
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(rest.len())];
    // (A month name is ASCII, and no non-ASCII letter lower-cases to a letter of one.)
    word.is_ascii() && super::date_time::is_month(word.as_bytes())
}

/// Whether a capitalized word follows `end` of `text` after spaces or tabs (on the same
/// line: a line break ends an address line, "Ilava\nSlovakia").
fn capitalized_word_follows(text: &str, end: usize) -> bool {
    let rest = &text[end..];
    let after = rest.trim_start_matches([' ', '\t']);
    after.len() < rest.len() && after.chars().next().is_some_and(char::is_uppercase)
}

fn boundary_ok(text: &str, range: &Range<usize>) -> bool {
    let before = text[..range.start].chars().next_back();
    let after = text[range.end..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

impl Recognizer for LocationRecognizer {
    fn entity(&self) -> EntityType {
        EntityType::Location
    }

    fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        let mut buf = Vec::new();
        self.find_in(text, &Scan::new(text, &mut buf), out)
    }

    fn needs(&self) -> Needs {
        Needs {
            bytes: Some(*upper_or_non_ascii()),
            ..Needs::NOTHING
        }
    }

    fn find_in(&self, text: &str, scan: &Scan, out: &mut Vec<Candidate>) {
        // No ASCII capital and no byte of a non-ASCII character: read from the scan's
        // byte set instead of two passes over the text.
        if !scan.bytes.intersects(upper_or_non_ascii()) {
            return;
        }
        let p = places();
        let context = &tables().location_context;
        for PlaceMatch { range, pattern } in p.find_iter(text) {
            if !boundary_ok(text, &range) {
                continue;
            }
            let score = if let Some(id) = pattern {
                context.boosted(text, &range, p.scores[id], 0.15)
            } else if capitalized_word_follows(text, range.end) {
                // "Ilava D. Roskel": a town name that is also a
                // given name, in a run of capitalized words, is a person's more often.
                continue;
            } else {
                // Not raised by context: PERSON's cues ("says Izumo") outscore it.
                GEONAMES_SCORE
            };
            out.push(Candidate {
                entity: EntityType::Location,
                range,
                score,
            });
        }
        for range in self.streets(text, scan) {
            if month_after_number(&text[range.clone()]) {
                continue;
            }
            // Above any place name inside it ("Pennsylvania" in "1600 Pennsylvania Avenue").
            let score = if context.near(text, &range) {
                0.95
            } else {
                0.85
            };
            out.push(Candidate {
                entity: EntityType::Location,
                range,
                score,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::found;
    use super::*;

    /// The values `r` reports at the default threshold.
    fn values(r: &dyn Recognizer, text: &str) -> Vec<String> {
        found(r, text)
            .into_iter()
            .filter(|(_, score)| *score >= 0.5)
            .map(|(v, _)| v)
            .collect()
    }

    /// One lookup of a word's list bits answers, for each list, whether it holds the word.
    #[test]
    fn word_kinds_agree_with_the_lists() {
        let t = tables();
        let mut words: Vec<String> = Vec::new();
        for (list, _) in name_lists() {
            words.extend(list.iter().map(|w| w.to_string()));
        }
        words.extend(words.clone().iter().map(|w| w.to_lowercase()));
        words.extend(["", "Zzyzx", "MR", "Dr.", "O'Brien"].map(String::from));
        for w in &words {
            let kinds = t.kinds(w);
            for bit in [FIRST, LAST, TITLE, NOT_PART, WORD] {
                let listed = name_lists()
                    .iter()
                    .any(|(list, b)| *b == bit && list.contains(&w.as_str()));
                assert_eq!(kinds & bit != 0, listed, "{w:?} {bit}");
            }
            assert_eq!(kinds & UNKNOWN, 0);
        }
    }

    /// Skipping texts where no street shape is possible loses nothing.
    #[test]
    fn street_prefilter_loses_nothing() {
        let l = location();
        let mut found = 0;
        let mut texts = crate::pii::recognizers::test_util::random_texts(4000, 11);
        texts.extend(
            [
                "Apt. #5",
                "Apt 5",
                "Apt.5",
                "Suite\t#12",
                "12a Main Street",
                "Box 12",
                "PSC 1234, Box 5678 APO AE 12345",
                "P.O. Box 7",
                "Rua Mina 50",
                "Via Tasso 129",
                "Strickstrasse 61",
                "Friday. #5",
                "1600 Pennsylvania Avenue, Apt 4",
                "12\u{a0}Main Street",
                "Ste\u{2003}#4",
                "Rua da 5",
                "Rua do Porto, 16",
                "Via delle Grazie 7",
                "ul. Lipowa 8",
                "USS Nimitz, FPO AP 96601",
                "5 Kossuth tér 19.\nGYÖR",
                "17 Kettuvaarankatu 82 Apt. 5",
                "Hauptstraße 5",
                "Rua\u{a0}Mina\u{a0}50",
                "lives at 10252 Μεγάλη Άμμος 184, ΠΑΦΟΣ",
                "10252 Μεγάλη Άμμος 184",
                "at 12 \u{a0}Main Street",
                "card 4111 1111, start 2024",
            ]
            .map(String::from),
        );
        // Each street prefix and ending, in a shape that ends with a number.
        for p in STREET_PREFIXES.split('|') {
            texts.push(format!("at {p} Mina 50 today"));
        }
        for e in [
            "strasse", "straße", "str.", "weg", "gatan", "vägen", "tie", "gade",
        ] {
            texts.push(format!("at Haupt{e} 12 today"));
        }
        let street = regex::Regex::new(&street_pattern()).unwrap();
        for text in &texts {
            let whole: Vec<_> = street.find_iter(text).map(|m| m.range()).collect();
            let mut marks = Vec::new();
            let scan = Scan::new(text, &mut marks);
            assert_eq!(l.streets(text, &scan), whole, "{text:?}");
            found += whole.len();
        }
        assert!(found > 100, "{found}");
    }

    /// Every place name may start where it stands, and most other capitals of ordinary
    /// text may not (the prefix bits are sparse).
    #[test]
    fn place_prefix_bits_pass_every_name() {
        let p = places();
        for list in [
            dictionaries::countries(),
            dictionaries::regions(),
            dictionaries::cities(),
            dictionaries::geonames_places(),
        ] {
            for name in list {
                let text = format!("x {name} y");
                assert!(p.may_start(text.as_bytes(), 2), "{name:?}");
            }
        }
        let words = [
            "Customer",
            "Meeting",
            "Reimburse",
            "Server",
            "Friday",
            "John",
            "The",
        ];
        let passing = words
            .iter()
            .filter(|w| p.may_start(w.as_bytes(), 0))
            .count();
        assert!(passing < words.len(), "{passing}");
    }

    /// Anchored searches at the bytes that start a name report what an unanchored
    /// leftmost-longest search over the whole text reports.
    #[test]
    fn anchored_place_search_matches_whole_text_search() {
        let p = places();
        let mut names: Vec<&str> = Vec::new();
        for list in [
            dictionaries::countries(),
            dictionaries::regions(),
            dictionaries::cities(),
            dictionaries::geonames_places(),
        ] {
            names.extend(list.iter().copied());
        }
        let whole = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&names)
            .unwrap();
        let mut texts = crate::pii::recognizers::test_util::random_texts(2000, 5);
        // Names glued to each other, to letters and to their own prefixes, overlapping.
        let mut next = crate::pii::recognizers::test_util::xorshift(0x9E37_79B9_7F4A_7C15);
        const GLUE: &[&str] = &["", " ", "X", "ian", ", ", "-", "é", "\n"];
        for _ in 0..3000 {
            let mut t = String::new();
            for _ in 0..(next() % 6 + 1) {
                let name = names[(next() % names.len() as u64) as usize];
                let cut = match next() % 4 {
                    0 => name.char_indices().nth(3).map_or(name.len(), |(i, _)| i),
                    _ => name.len(),
                };
                t.push_str(&name[..cut]);
                t.push_str(GLUE[(next() % GLUE.len() as u64) as usize]);
            }
            texts.push(t);
        }
        // The hand-written names come first in `names`, with the automaton's ids.
        let listed = names.len() - dictionaries::geonames_places().len();
        let (mut found, mut towns) = (0, 0);
        for text in &texts {
            let want: Vec<_> = whole
                .find_iter(text.as_str())
                .map(|m| {
                    (
                        m.range(),
                        Some(m.pattern().as_usize()).filter(|&i| i < listed),
                    )
                })
                .collect();
            let got: Vec<_> = p.find_iter(text).map(|m| (m.range, m.pattern)).collect();
            assert_eq!(got, want, "{text:?}");
            found += want.len();
            towns += want.iter().filter(|(_, id)| id.is_none()).count();
        }
        assert!(found > 5000 && towns > 1000, "{found} {towns}");
    }

    /// No GeoNames town is also a hand-written place name, so the two lists never offer
    /// [`Places::find_iter`] the same match; every town has four bytes or more.
    #[test]
    fn town_list_is_apart_from_the_place_lists() {
        let listed: std::collections::HashSet<&str> = [
            dictionaries::countries(),
            dictionaries::regions(),
            dictionaries::cities(),
        ]
        .into_iter()
        .flatten()
        .copied()
        .collect();
        for town in dictionaries::geonames_places() {
            assert!(!listed.contains(town), "{town:?}");
            // `Places::longest_town` reads four bytes or more.
            assert!(town.len() >= 4, "{town:?}");
        }
    }

    #[test]
    fn ascii_words_match_char_words() {
        let key = |ws: &[Word]| -> Vec<_> {
            ws.iter()
                .map(|w| (w.start, w.end, w.capitalized, w.initial))
                .collect()
        };
        let mut texts = crate::pii::recognizers::test_util::random_texts(2000, 7);
        texts.extend(
            [
                "O'Brien-Smith x-ray 'quoted' - A. B.C. d. Jean--Luc it's- -a 'b",
                "John A. Smith, J.R.R. Tolkien, MR. JONES, I. A",
            ]
            .map(String::from),
        );
        let mut checked = 0;
        for text in texts.iter().filter(|t| t.is_ascii()) {
            let (mut a, mut c) = (Vec::new(), Vec::new());
            ascii_words(text.as_bytes(), &mut a);
            char_words(text, &mut c);
            assert_eq!(key(&a), key(&c), "{text:?}");
            checked += 1;
        }
        assert!(checked > 500, "{checked}");
    }

    /// Texts of names, titles, initials, capitalized and other words glued with spaces,
    /// joiners and punctuation: what PERSON's word handling is compared on.
    fn name_texts(n: usize, state: u64) -> Vec<String> {
        const TOKENS: &[&str] = &[
            "John", "Smith", "Maria", "Garcia", "A.", "B", "Dr.", "Dr", "Mrs", "Prof", "The",
            "Board", "Meeting", "O'Brien", "Jean-Luc", "MR", "JONES", "x-Ray", "it's", "and",
            "called", "dear", "name", "Monday", "Thandiwe", "Okonkwo", "McDonald", "I", "a",
            "Señor", "Zoë", "Émile", "Ünal", "ǅemal", "İlker", "ǈ", "Apt", "Street", "-", "'",
        ];
        const GLUE: &[&str] = &[
            " ", " ", " ", "  ", "\t", ". ", ", ", "-", "'", "", ".", "\n", ": ", "(", " - ", "’",
            "\u{a0}",
        ];
        let mut next = crate::pii::recognizers::test_util::xorshift(state);
        (0..n)
            .map(|_| {
                let mut t = String::new();
                for _ in 0..(next() % 10 + 1) {
                    t.push_str(TOKENS[(next() % TOKENS.len() as u64) as usize]);
                    t.push_str(GLUE[(next() % GLUE.len() as u64) as usize]);
                }
                t
            })
            .collect()
    }

    /// The eight-bytes-at-a-time search finds what a byte-by-byte one finds, from every
    /// start, in every byte value.
    #[test]
    fn next_upper_or_non_ascii_agrees_with_bytes() {
        let mut next = crate::pii::recognizers::test_util::xorshift(0x0BAD_F00D_1234_5678);
        let mut texts: Vec<Vec<u8>> = vec![(0..=255u8).collect(), (0..=255u8).rev().collect()];
        for _ in 0..500 {
            let len = (next() % 40) as usize;
            texts.push(
                (0..len)
                    .map(|_| match next() % 4 {
                        0 => b"AZaz@[`{"[(next() % 8) as usize],
                        1 => (next() % 256) as u8,
                        _ => b'a' + (next() % 26) as u8,
                    })
                    .collect(),
            );
        }
        let mut hits = 0;
        for b in &texts {
            for i in 0..=b.len() {
                let want = (i..b.len())
                    .find(|&j| b[j].is_ascii_uppercase() || b[j] >= 0x80)
                    .unwrap_or(b.len());
                assert_eq!(next_upper_or_non_ascii(b, i), want, "{b:?} {i}");
                hits += usize::from(want < b.len());
            }
        }
        assert!(hits > 1000, "{hits}");
    }

    /// The capitalized words are the words of [`words`] that are capitalized.
    #[test]
    fn capitalized_words_are_the_capitalized_words() {
        let key = |ws: &[Word]| -> Vec<_> {
            ws.iter()
                .map(|w| (w.start, w.end, w.capitalized, w.initial))
                .collect()
        };
        let mut texts = crate::pii::recognizers::test_util::random_texts(2000, 13);
        texts.extend(name_texts(4000, 0x5DEE_CE66_D1CE_4E5B));
        texts.extend(
            [
                "A", "A.", "'A", "a'B", "a-B c -D", "ab-'C", "X'", "Ab-", "AB-c",
            ]
            .map(String::from),
        );
        let mut seen = 0;
        for text in &texts {
            let mut all = Vec::new();
            words(text, &mut all);
            all.retain(|w| w.capitalized);
            let mut got = Vec::new();
            capitalized_words(text, &mut got);
            assert_eq!(key(&got), key(&all), "{text:?}");
            seen += got.len();
        }
        assert!(seen > 10_000, "{seen}");
    }

    /// PERSON over the capitalized words finds what it finds over every word.
    #[test]
    fn person_over_capitalized_words_finds_the_same() {
        let p = person();
        let mut texts = crate::pii::recognizers::test_util::random_texts(2000, 17);
        texts.extend(name_texts(6000, 0x2545_F491_4F6C_DD1D));
        let mut found = 0;
        for text in &texts {
            let mut all = Vec::new();
            words(text, &mut all);
            let mut want = Vec::new();
            p.find_words(text, &all, &mut vec![UNKNOWN; all.len()], &mut want);
            let mut got = Vec::new();
            p.find(text, &mut got);
            assert_eq!(got, want, "{text:?}");
            let mut marks = Vec::new();
            let mut in_scan = Vec::new();
            p.find_in(text, &Scan::new(text, &mut marks), &mut in_scan);
            assert_eq!(in_scan, want, "{text:?}");
            found += want.len();
        }
        assert!(found > 3000, "{found}");
    }

    #[test]
    fn people() {
        let p = person();
        assert_eq!(
            values(&p, "Meeting with John Smith today."),
            vec!["John Smith"]
        );
        assert_eq!(
            values(&p, "Signed: Maria A. Garcia, RN"),
            vec!["Maria A. Garcia"]
        );
        assert_eq!(values(&p, "Ask Dr. Okonkwo about it"), vec!["Okonkwo"]);
        assert_eq!(values(&p, "Dear James, thanks"), vec!["James"]);
        assert_eq!(values(&p, "Thandiwe Smith called"), vec!["Thandiwe Smith"]);
        // A lone given name at a sentence start is reported, unless it is also a common
        // word; lone surnames there, lower case and ordinary capitalized words are not.
        assert_eq!(values(&p, "James went home"), vec!["James"]);
        assert_eq!(values(&p, "Hi. Kevin took it back"), vec!["Kevin"]);
        assert!(values(&p, "Mark the date. Grace periods end.").is_empty());
        assert!(values(&p, "Okonkwo went home").is_empty());
        assert!(values(&p, "john smith was here").is_empty());
        assert!(values(&p, "The Board Meeting is on Monday.").is_empty());
    }

    /// Runs no list knows, after a cue word; names with a middle initial; possessives.
    #[test]
    fn cued_and_shaped_names() {
        let p = person();
        assert_eq!(
            values(&p, "My name is Zorwen Kadlubek."),
            vec!["Zorwen Kadlubek"]
        );
        assert_eq!(
            values(&p, "Name:   Tovrin Osk\nPhone: 555"),
            vec!["Tovrin Osk"]
        );
        assert_eq!(values(&p, "What's your name? Qelvin"), vec!["Qelvin"]);
        assert_eq!(values(&p, "Dear Qelvin, welcome"), vec!["Qelvin"]);
        assert_eq!(
            values(&p, "\"Not yet,\" says Zorwen Kadlubek."),
            vec!["Zorwen Kadlubek"]
        );
        assert!(values(&p, "he said Monday").is_empty());
        assert_eq!(
            values(&p, "her mother was called Brisla Oventa"),
            vec!["Brisla Oventa"]
        );
        assert_eq!(
            values(&p, "a talk with Ulvar D. Kestrin today"),
            vec!["Ulvar D. Kestrin"]
        );
        assert_eq!(
            values(&p, "a talk with Ulvar D Kestrin today"),
            vec!["Ulvar D Kestrin"]
        );
        // The possessive is looked up and reported without its "'s".
        assert_eq!(values(&p, "Ask Dr. Okonkwo's nurse"), vec!["Okonkwo"]);
        assert_eq!(values(&p, "Maria Garcia's car"), vec!["Maria Garcia"]);
        // A cue must stand right before the run, as a whole word.
        assert!(values(&p, "The name of the file is Zorwen Kadlubek").is_empty());
        assert!(values(&p, "the rename is Zorwen Kadlubek").is_empty());
        assert!(values(&p, "Zorwen Kadlubek met Tovrin Osk").is_empty());
        // Greetings to groups, and places, are not names.
        assert!(values(&p, "Dear Customer, hello World, hi Team").is_empty());
        let text = "We drove to San Bernardino";
        let spans: Vec<_> = crate::pii::Analyzer::shared_default()
            .analyze(text)
            .iter()
            .map(|s| (s.entity, s.value(text).to_string()))
            .collect();
        assert_eq!(spans, vec![(EntityType::Location, "San Bernardino".into())]);
    }

    /// An unknown word listed next to a name is a name; not one next to a common word, nor
    /// one apart from the name.
    #[test]
    fn listed_names() {
        let p = person();
        assert_eq!(
            values(&p, "They had three: Zorwen, Hannah and Anthony."),
            vec!["Zorwen", "Hannah", "Anthony"]
        );
        assert_eq!(
            values(&p, "the founders were Hannah, Zorwen and Qelvin"),
            vec!["Hannah", "Zorwen", "Qelvin"]
        );
        assert_eq!(
            values(&p, "Kadlubek and Murphy wrote it"),
            vec!["Kadlubek", "Murphy"]
        );
        // "Brown" alone mid-sentence is reported, but as a common word it lends nothing.
        assert_eq!(values(&p, "bought at Zorwen and Brown"), vec!["Brown"]);
        assert_eq!(values(&p, "Zorwen or Hannah"), vec!["Hannah"]);
        assert_eq!(values(&p, "met Hannah. Zorwen, too"), vec!["Hannah"]);
    }

    /// The cue test reads whole words, with only blanks, one ':' or '?' and one "is" or
    /// "was" between the cue and the run.
    #[test]
    fn name_cues() {
        for (before, cued) in [
            ("name is ", true),
            ("Name: ", true),
            ("NAME:\t", true),
            ("your name? ", true),
            ("his name was ", true),
            ("was called ", true),
            ("Hi ", true),
            ("hello ", true),
            ("dear\t", true),
            ("", false),
            ("is ", false),
            ("rename ", false),
            ("name, ", false),
            ("name is is ", false),
            ("name:: ", false),
            ("name\nis ", false),
            ("namé is ", false),
            ("éname ", false),
            ("name1 ", false),
            ("nameis ", false),
        ] {
            let text = format!("{before}Zorwen");
            assert_eq!(name_cue_before(&text, before.len()), cued, "{text:?}");
        }
    }

    #[test]
    fn places_and_streets() {
        let l = location();
        assert_eq!(values(&l, "She moved to Germany in 2019"), vec!["Germany"]);
        let text = "Ship to 1600 Pennsylvania Avenue, Apt 4, Washington";
        let spans: Vec<_> = crate::pii::Analyzer::shared_default()
            .analyze(text)
            .iter()
            .map(|s| (s.entity, s.value(text).to_string()))
            .collect();
        assert_eq!(
            spans,
            vec![
                (
                    EntityType::Location,
                    "1600 Pennsylvania Avenue, Apt 4".into()
                ),
                (EntityType::Location, "Washington".into())
            ]
        );
        assert_eq!(
            values(&l, "flights from New York to Paris"),
            vec!["New York", "Paris"]
        );
        // Whole words only.
        assert!(values(&l, "Parisian cafes and Romania")
            .iter()
            .all(|v| v != "Paris"));
    }

    /// Towns of the GeoNames list, with and without diacritics, at their fixed score; one
    /// followed by a capitalized word is left to PERSON.
    #[test]
    fn geonames_towns() {
        let l = location();
        assert_eq!(
            found(&l, "She grew up in Pelhřimov, then Amposta."),
            vec![
                ("Pelhřimov".to_string(), GEONAMES_SCORE),
                ("Amposta".to_string(), GEONAMES_SCORE)
            ]
        );
        assert_eq!(values(&l, "moved to Pelhrimov"), vec!["Pelhrimov"]);
        // A town name in a run of capitalized words is more often part of a person's name.
        assert!(values(&l, "verses by Ilava D. Roskel").is_empty());
        assert_eq!(
            values(&l, "Ilava\nCzech Republic"),
            vec!["Ilava", "Czech Republic"]
        );
        // PERSON's cue outscores the town: the analyzer reports a person.
        let text = "\"We will see,\" says Izumo.";
        let spans: Vec<_> = crate::pii::Analyzer::shared_default()
            .analyze(text)
            .iter()
            .map(|s| (s.entity, s.value(text).to_string()))
            .collect();
        assert_eq!(spans, vec![(EntityType::Person, "Izumo".to_string())]);
        // Every GeoNames entry is found alone, whole, at its score.
        for name in dictionaries::geonames_places().iter().step_by(97) {
            let text = format!("near {name}.");
            let got = found(&l, &text);
            assert!(got.iter().any(|(v, _)| v == name), "{name:?}: {got:?}");
        }
    }

    /// Street shapes with a building number before the street, names written first, and
    /// US military ship addresses; a number and a month is a date; a number, capitalized
    /// words and a number are an address only when an address goes on after them.
    #[test]
    fn street_shapes() {
        let l = location();
        for (text, want) in [
            ("Ship to 17 880 Maple St today", "17 880 Maple St"),
            (
                "lives at 31 Kettuvaarankatu 12 Apt. 5 now",
                "31 Kettuvaarankatu 12 Apt. 5",
            ),
            ("at 12 Kossuth tér 19.\nGYÖR", "12 Kossuth tér 19.\nGYÖR"),
            ("at 40 Via Sole 7, Tarvisio", "40 Via Sole 7, Tarvisio"),
            ("at Rua do Porto 16, Braga", "Rua do Porto 16"),
            ("ul. Lipowa 8", "ul. Lipowa 8"),
            ("Lindholmgade 52", "Lindholmgade 52"),
            ("Hafnarvegur 3", "Hafnarvegur 3"),
            ("USNS Harlan\nFPO AP 90210", "USNS Harlan\nFPO AP 90210"),
        ] {
            assert!(
                values(&l, text).iter().any(|v| v == want),
                "{text:?}: {:?}",
                values(&l, text)
            );
        }
        for text in [
            "on 12 March 2024, Bonn we met",
            "from 3 Sept 12 on",
            "10 Musicians Of The 70s",
            "our Top 5 Songs 2 weeks ago",
            "sold 5 Tickets to 3 people",
        ] {
            let v = values(&l, text);
            assert!(
                v.iter().all(|v| !v.starts_with(char::is_numeric)),
                "{text:?}: {v:?}"
            );
        }
        assert!(month_after_number("12 March 2024"));
        assert!(month_after_number("3 sept 12"));
        assert!(!month_after_number("12 Marchmont 4"));
        assert!(!month_after_number("Via Maggio 4"));
    }

    /// [`month_after_number`] answers as its first version, which lower-cased the word and
    /// compared it with the month names, their first three letters and "sept".
    #[test]
    fn month_after_number_agrees_with_its_list() {
        let reference = |street: &str| {
            const MONTHS: [&str; 12] = [
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ];
            let rest = street.trim_start_matches(|c: char| c.is_ascii_digit());
            if rest.len() == street.len() {
                return false;
            }
            let word: String = rest
                .trim_start_matches([' ', '\t'])
                .chars()
                .take_while(|c| c.is_alphabetic())
                .flat_map(char::to_lowercase)
                .collect();
            word.len() >= 3
                && MONTHS.iter().any(|m| {
                    *m == word || (m.starts_with(&word) && (word.len() == 3 || word == "sept"))
                })
        };
        let mut words: Vec<String> = Vec::new();
        for m in [
            "january",
            "june",
            "september",
            "may",
            "dec",
            "octo",
            "marchx",
        ] {
            for end in 1..=m.len() {
                words.push(m[..end].to_string());
                words.push(m[..end].to_uppercase());
            }
        }
        words.extend(
            [
                "Ma\u{212a}",
                "\u{212a}",
                "Aprİl",
                "Dezember",
                "Maí",
                "sept.",
                "",
            ]
            .map(String::from),
        );
        let mut months = 0;
        for w in &words {
            for street in [format!("12 {w} 2024"), format!("3\t{w}"), format!("{w} 12")] {
                let want = reference(&street);
                assert_eq!(month_after_number(&street), want, "{street:?}");
                months += usize::from(want);
            }
        }
        assert!(months >= 20, "{months}");
    }
}
