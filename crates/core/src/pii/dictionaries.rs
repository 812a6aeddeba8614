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
    census_first_names,
    "census_first_names.txt",
    "Given names of the 1990 US Census not in [`first_names`] nor common English words \
     (scripts/gen_name_lists.py). PERSON recognition only: fakes come from [`first_names`]."
);
list!(
    census_last_names,
    "census_last_names.txt",
    "The most frequent surnames of the 1990 US Census not in [`last_names`] nor common \
     English words (scripts/gen_name_lists.py). PERSON recognition only."
);
list!(
    common_word_names,
    "common_word_names.txt",
    "The entries of [`first_names`] and [`last_names`] that are also common English words \
     (\"Mark\", \"Grace\", \"Brown\"; scripts/gen_name_lists.py): alone at a sentence \
     start they say little."
);
list!(
    countries,
    "countries.txt",
    "Countries and territories (English and local names)."
);
list!(regions, "regions.txt", "States, provinces and regions.");
list!(cities, "cities.txt", "Cities and towns.");
list!(
    geonames_places,
    "geonames_places.txt",
    "Towns and cities of GeoNames (CC BY 4.0) not in [`cities`], [`regions`] or \
     [`countries`], nor common English words or PERSON names, also without diacritics \
     (scripts/gen_place_lists.py). \
     LOCATION recognition only: fakes come from [`cities`]."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_loaded_and_clean() {
        for (name, list, min) in [
            ("first_names", first_names(), 500),
            ("last_names", last_names(), 500),
            ("census_first_names", census_first_names(), 3000),
            ("census_last_names", census_last_names(), 10_000),
            ("common_word_names", common_word_names(), 100),
            ("countries", countries(), 150),
            ("regions", regions(), 100),
            ("cities", cities(), 500),
            ("geonames_places", geonames_places(), 20_000),
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
