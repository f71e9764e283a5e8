//! Dependency chains: the search behind cycle detection.

use std::collections::{HashMap, VecDeque};

/// The shortest chain of `depends_on` edges from `start` to `goal`, both
/// included, or `None` when `goal` is not reachable. `edges` maps a card to the
/// cards it depends on; ids without an entry have no dependencies (or do not
/// exist yet).
pub(crate) fn path_between(
    edges: &HashMap<String, Vec<String>>,
    start: &str,
    goal: &str,
) -> Option<Vec<String>> {
    if start == goal {
        return Some(vec![start.to_owned()]);
    }
    let mut parent: HashMap<&str, &str> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        for next in edges.get(at).into_iter().flatten() {
            if next == start || parent.contains_key(next.as_str()) {
                continue;
            }
            parent.insert(next, at);
            if next == goal {
                let mut path = vec![goal.to_owned()];
                let mut cur = goal;
                while let Some(&prev) = parent.get(cur) {
                    path.push(prev.to_owned());
                    cur = prev;
                }
                path.reverse();
                return Some(path);
            }
            queue.push_back(next);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(pairs: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn finds_the_shortest_chain() {
        let g = graph(&[
            ("a", &["b", "x"]),
            ("b", &["c"]),
            ("x", &["y"]),
            ("y", &["c"]),
        ]);
        assert_eq!(path_between(&g, "a", "c").unwrap(), ["a", "b", "c"]);
        assert_eq!(path_between(&g, "c", "a"), None);
    }

    #[test]
    fn reaches_ids_that_have_no_row_yet() {
        let g = graph(&[("a", &["ghost"])]);
        assert_eq!(path_between(&g, "a", "ghost").unwrap(), ["a", "ghost"]);
    }

    #[test]
    fn terminates_on_existing_cycles() {
        let g = graph(&[("a", &["b"]), ("b", &["a"]), ("c", &[])]);
        assert_eq!(path_between(&g, "a", "c"), None);
        assert_eq!(path_between(&g, "b", "a").unwrap(), ["b", "a"]);
    }

    #[test]
    fn a_card_reaches_itself() {
        assert_eq!(path_between(&HashMap::new(), "a", "a").unwrap(), ["a"]);
    }
}
