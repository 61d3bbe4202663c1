//! `Bounded<MIN, MAX>`: an integer config value checked while it is
//! deserialized, so an out-of-range value is reported with its position.

use serde::{de, Deserialize, Deserializer};

/// An integer in `MIN..=MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounded<const MIN: u64, const MAX: u64>(pub u64);

impl<const MIN: u64, const MAX: u64> Bounded<MIN, MAX> {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        if v < MIN as i64 || v as u64 > MAX {
            return Err(de::Error::custom(format!("{v} is out of range: must be between {MIN} and {MAX}")));
        }
        Ok(Bounded(v as u64))
    }
}
