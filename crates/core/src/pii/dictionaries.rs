//! Word lists shipped in the repository (crates/core/src/pii/dictionaries/*.txt, one entry
//! per line): given names, surnames, countries, regions and cities. They feed the PERSON
//! and LOCATION recognizers and the `substitute` strategy's fakes. Nothing is downloaded.

use std::sync::OnceLock;

fn lines(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

macro_rules! list {
    ($name:ident, $file:literal, $doc:literal) => {
        #[doc = $doc]
        pub fn $name() -> &'static [&'static str] {
            static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
            LIST.get_or_init(|| lines(include_str!(concat!("dictionaries/", $file))))
        }
    };
}

list!(first_names, "first_names.txt", "Common given names.");
list!(last_names, "last_names.txt", "Common surnames.");
list!(
    countries,
    "countries.txt",
    "Countries and territories (English and local names)."
);
list!(regions, "regions.txt", "States, provinces and regions.");
list!(cities, "cities.txt", "Cities and towns.");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_loaded_and_clean() {
        for (name, list, min) in [
            ("first_names", first_names(), 500),
            ("last_names", last_names(), 500),
            ("countries", countries(), 150),
            ("regions", regions(), 100),
            ("cities", cities(), 500),
        ] {
            assert!(list.len() >= min, "{name}: {} entries", list.len());
            assert!(
                list.iter()
                    .all(|e| e.chars().next().is_some_and(char::is_uppercase)),
                "{name}: every entry starts with a capital letter"
            );
        }
    }
}
