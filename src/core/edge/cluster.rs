//! The edge's side of the shared location (`[cluster]`). SKELETON.

use super::{Edge, Output};
use crate::core::location::shared::ClusterEvent;

impl Edge {
    pub(super) fn on_cluster(&mut self, _event: ClusterEvent, _out: &mut Vec<Output>) {}
}
