//! Counting outcomes per category, and the Markdown table of them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::http::Outcome;
use crate::mix::Category;

/// How many requests of each category came to each outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    counts: BTreeMap<Category, BTreeMap<Outcome, u64>>,
}

impl Tally {
    /// Counts one request.
    pub fn record(&mut self, category: Category, outcome: Outcome) {
        *self
            .counts
            .entry(category)
            .or_default()
            .entry(outcome)
            .or_default() += 1;
    }

    /// Adds another tally's counts to this one.
    pub fn merge(&mut self, other: &Tally) {
        for (category, outcomes) in &other.counts {
            let mine = self.counts.entry(*category).or_default();
            for (outcome, n) in outcomes {
                *mine.entry(*outcome).or_default() += n;
            }
        }
    }

    /// Requests counted whose outcome satisfies `which`.
    pub fn count(&self, which: impl Fn(Category, Outcome) -> bool) -> u64 {
        self.counts
            .iter()
            .flat_map(|(c, outcomes)| outcomes.iter().map(move |(o, n)| (*c, *o, *n)))
            .filter(|(c, o, _)| which(*c, *o))
            .map(|(_, _, n)| n)
            .sum()
    }

    /// Every request counted.
    pub fn total(&self) -> u64 {
        self.count(|_, _| true)
    }

    /// Answers 500-599 other than 503 (deliberate shedding).
    pub fn server_errors(&self) -> u64 {
        self.count(|_, o| matches!(o, Outcome::Status(500..=599)) && o != Outcome::Status(503))
    }

    /// Requests no status came back for within the time limit.
    pub fn timeouts(&self) -> u64 {
        self.count(|_, o| o == Outcome::Timeout)
    }

    /// Requests whose outcome the contract does not list for their category.
    pub fn unexpected(&self) -> u64 {
        self.count(|c, o| !c.allows(o))
    }

    /// The table: one row per category, one column per outcome seen.
    pub fn markdown(&self) -> String {
        let columns: BTreeSet<Outcome> = self
            .counts
            .values()
            .flat_map(|o| o.keys().copied())
            .collect();
        let mut out = String::from("| category | requests |");
        for c in &columns {
            let _ = write!(out, " {c} |");
        }
        out.push_str(" allowed | outside allowed |\n|---|---:|");
        for _ in &columns {
            out.push_str("---:|");
        }
        out.push_str("---|---:|\n");
        let mut totals = BTreeMap::<Outcome, u64>::new();
        for category in Category::ALL {
            let Some(outcomes) = self.counts.get(&category) else {
                continue;
            };
            let _ = write!(
                out,
                "| {} | {} |",
                category.describe(),
                outcomes.values().sum::<u64>()
            );
            for c in &columns {
                let n = outcomes.get(c).copied().unwrap_or(0);
                *totals.entry(*c).or_default() += n;
                match n {
                    0 => out.push_str(" |"),
                    n => {
                        let _ = write!(out, " {n} |");
                    }
                }
            }
            let allowed: Vec<String> = category.expected().iter().map(u16::to_string).collect();
            let outside: u64 = outcomes
                .iter()
                .filter(|(o, _)| !category.allows(**o))
                .map(|(_, n)| n)
                .sum();
            let _ = writeln!(out, " {} | {outside} |", allowed.join(", "));
        }
        let _ = write!(out, "| **all** | **{}** |", self.total());
        for c in &columns {
            let _ = write!(out, " **{}** |", totals.get(c).copied().unwrap_or(0));
        }
        let _ = writeln!(out, " | **{}** |", self.unexpected());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_merge_and_classify() {
        let mut a = Tally::default();
        a.record(Category::ValidList, Outcome::Status(200));
        a.record(Category::ValidList, Outcome::Status(500));
        a.record(Category::WrongPassword, Outcome::Status(503));
        let mut b = Tally::default();
        b.record(Category::Header64K, Outcome::Closed);
        b.record(Category::Expired, Outcome::Timeout);
        b.record(Category::ValidList, Outcome::Status(200));
        a.merge(&b);
        assert_eq!(a.total(), 6);
        assert_eq!(a.server_errors(), 1);
        assert_eq!(a.timeouts(), 1);
        // 500 on a list, a closed connection, a timeout.
        assert_eq!(a.unexpected(), 3);
        let table = a.markdown();
        assert!(table.starts_with("| category | requests | 200 | 500 | 503 | closed | timeout | allowed | outside allowed |\n"), "{table}");
        assert!(
            table.contains("| `GET /todos`, valid token | 3 | 2 | 1 | | | | 200 | 1 |\n"),
            "{table}"
        );
        assert!(
            table.ends_with(
                "| **all** | **6** | **2** | **1** | **1** | **1** | **1** | | **3** |\n"
            ),
            "{table}"
        );
    }
}
