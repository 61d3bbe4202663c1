//! I/O rooms beside `shard/`: plain threads that talk to remote
//! dependencies (Redis: `store`; DNS: `resolver`) for the shards, fed through bounded
//! queues and answering through each shard's own queue and doorbell. They
//! depend on `core` (what an ask and an answer are) and `config`, never on
//! `shard` or `admin`; no shard ever waits on them.

pub mod ends;
pub mod resolver;
pub mod store;
