//! Closed sets of reasons and the tallies that count them.
//!
//! A reason family (why a message was dropped, why a handshake failed, ...)
//! is an enum defined with [`reasons!`](crate::reasons): each variant next to
//! its metric label, in one place. A [`Tally`] counts per variant in a plain
//! array indexed by the variant: no string is compared and nothing is
//! allocated per count. Publishing walks [`Reason::all`], so every series of
//! a family exists (at 0) from the first scrape on.
//!
//! A family may nest another one (`Drop::Unscannable(ScanError)`): the nested
//! family's reasons are part of the outer one's positions, so they too are
//! counted by index and published from the start. Labels of the families
//! that share one metric must not collide (tests check that where it matters).
//!
//! This sits at the crate root, not in `core`, because `sip` (below `core`)
//! defines families of its own (`ScanError`, `Invalid`).

use std::marker::PhantomData;

/// A closed set of reasons with stable labels.
pub trait Reason: Copy + Eq + std::fmt::Debug + 'static {
    /// How many reasons there are, nested families included.
    const COUNT: usize;
    /// Position in `0..COUNT`: the tally's index.
    fn index(self) -> usize;
    /// The reason at position `i < COUNT`.
    fn nth(i: usize) -> Self;
    /// The metric label (stable: tests, dashboards and alerts match on it).
    fn label(self) -> &'static str;
    /// Every reason, in position order.
    fn all() -> impl Iterator<Item = Self> {
        (0..Self::COUNT).map(Self::nth)
    }
}

/// Defines a reason enum and its [`Reason`] impl from one list of
/// `Variant => "label",` lines, optionally followed by `; Nested(Family),`
/// lines for variants that carry a reason of another family.
#[macro_export]
macro_rules! reasons {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $label:literal, )*
            $( ; $( $(#[$nmeta:meta])* $nested:ident($inner:ty), )* )?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
            $( $( $(#[$nmeta])* $nested($inner), )* )?
        }

        impl $crate::reason::Reason for $name {
            const COUNT: usize = <[&str]>::len(&[$($label),*]) $( $( + <$inner as $crate::reason::Reason>::COUNT )* )?;

            #[allow(unused_variables, unused_mut, unused_assignments, irrefutable_let_patterns)]
            fn index(self) -> usize {
                #[allow(non_camel_case_types, dead_code)]
                enum Own { $($variant),* }
                let mut offset = <[&str]>::len(&[$($label),*]);
                $( $(
                    if let $name::$nested(r) = self {
                        return offset + $crate::reason::Reason::index(r);
                    }
                    offset += <$inner as $crate::reason::Reason>::COUNT;
                )* )?
                match self {
                    $( $name::$variant => Own::$variant as usize, )*
                    #[allow(unreachable_patterns)]
                    _ => unreachable!(),
                }
            }

            #[allow(unused_mut, unused_assignments)]
            fn nth(i: usize) -> Self {
                const OWN: &[$name] = &[$($name::$variant),*];
                if i < OWN.len() {
                    return OWN[i];
                }
                let mut i = i - OWN.len();
                $( $(
                    if i < <$inner as $crate::reason::Reason>::COUNT {
                        return $name::$nested(<$inner as $crate::reason::Reason>::nth(i));
                    }
                    i -= <$inner as $crate::reason::Reason>::COUNT;
                )* )?
                panic!("{} has no reason at {}", stringify!($name), i)
            }

            fn label(self) -> &'static str {
                $name::label(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }

        impl $name {
            /// The metric label (see `reason::Reason::label`).
            pub fn label(self) -> &'static str {
                match self {
                    $( $name::$variant => $label, )*
                    $( $( $name::$nested(r) => $crate::reason::Reason::label(r), )* )?
                }
            }
        }
    };
}

/// Counts per reason of one family.
#[derive(Clone, PartialEq, Eq)]
pub struct Tally<R: Reason> {
    counts: Box<[u64]>,
    family: PhantomData<R>,
}

impl<R: Reason> Default for Tally<R> {
    fn default() -> Self {
        Tally { counts: vec![0; R::COUNT].into_boxed_slice(), family: PhantomData }
    }
}

impl<R: Reason> Tally<R> {
    pub fn add(&mut self, reason: R) {
        self.counts[reason.index()] += 1;
    }

    pub fn get(&self, reason: R) -> u64 {
        self.counts[reason.index()]
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Every reason with its count, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (R, u64)> + '_ {
        self.counts.iter().enumerate().map(|(i, n)| (R::nth(i), *n))
    }
}

/// Only what was counted, by label.
impl<R: Reason> std::fmt::Debug for Tally<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter().filter(|(_, n)| *n > 0).map(|(r, n)| (r.label(), n))).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{Reason, Tally};

    crate::reasons! {
        enum Inner {
            X => "x",
            Y => "y",
        }
    }

    crate::reasons! {
        enum Outer {
            A => "a",
            B => "b",
            ;
            In(Inner),
            Again(Inner),
        }
    }

    crate::reasons! {
        enum OnlyNested {
            ;
            In(Inner),
        }
    }

    #[test]
    fn positions_cover_every_reason_once() {
        assert_eq!(Outer::COUNT, 6);
        let all: Vec<Outer> = Outer::all().collect();
        assert_eq!(
            all,
            [
                Outer::A,
                Outer::B,
                Outer::In(Inner::X),
                Outer::In(Inner::Y),
                Outer::Again(Inner::X),
                Outer::Again(Inner::Y)
            ]
        );
        for (i, r) in all.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        assert_eq!(Outer::In(Inner::Y).label(), "y");
        assert_eq!(OnlyNested::all().map(Reason::label).collect::<Vec<_>>(), ["x", "y"]);
    }

    #[test]
    fn tally_counts_by_variant() {
        let mut t = Tally::<Outer>::default();
        t.add(Outer::B);
        t.add(Outer::B);
        t.add(Outer::In(Inner::X));
        assert_eq!((t.get(Outer::B), t.get(Outer::In(Inner::X)), t.get(Outer::A), t.total()), (2, 1, 0, 3));
        assert_eq!(t.iter().count(), Outer::COUNT);
        assert_eq!(format!("{t:?}"), r#"{"b": 2, "x": 1}"#);
    }
}
