//! The resolver thread: takes jobs from the queue, merges identical
//! lookups in flight (one lookup, every asker answered), runs each under
//! its budget, and answers the shards.

use super::lookup::{self, Resolver};
use super::{Answered, Job, Settings};
use crate::core::resolve::{Dest, Failure, Resolved};
use crate::core::Answer;
use crate::services::ends::Ends;
use metrics::{counter, histogram};
use std::collections::HashMap;
use std::time::Instant;
use tokio::task::JoinSet;

pub(super) struct Worker {
    pub settings: Settings,
    pub rx: tokio::sync::mpsc::Receiver<Job>,
    pub ends: Ends<Answered>,
}

impl Worker {
    pub fn run(mut self) {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => return log::error!("dns: cannot start its runtime: {e}"),
        };
        rt.block_on(async move {
            let resolver = lookup::resolver(&self.settings);
            let mut waiting: HashMap<Dest, Vec<(u16, u64)>> = HashMap::new();
            let mut running: JoinSet<(Dest, Result<Resolved, Failure>)> = JoinSet::new();
            loop {
                tokio::select! {
                    job = self.rx.recv() => match job {
                        None => return,
                        Some(Job::Ask { shard, token, dest }) => {
                            let askers = waiting.entry(dest.clone()).or_default();
                            askers.push((shard, token));
                            if askers.len() > 1 {
                                counter!("sipedge_dns_merged_total").increment(1);
                                continue;
                            }
                            running.spawn(timed(resolver.clone(), dest, self.settings.clone()));
                        }
                        Some(Job::Describe { dest, reply }) => {
                            let (r, s) = (resolver.clone(), self.settings.clone());
                            tokio::spawn(async move {
                                let (_, result) = timed(r, dest, s).await;
                                let _ = reply.send(result);
                            });
                        }
                    },
                    Some(done) = running.join_next(), if !running.is_empty() => {
                        let Ok((dest, result)) = done else { continue };
                        for (shard, token) in waiting.remove(&dest).unwrap_or_default() {
                            let answer = Answer::Resolved(result.clone());
                            self.ends.send(shard as usize, Answered { token, answer });
                        }
                    }
                }
            }
        });
    }
}

/// One lookup under its budget, counted and timed.
async fn timed(resolver: Resolver, dest: Dest, settings: Settings) -> (Dest, Result<Resolved, Failure>) {
    let start = Instant::now();
    let result = match tokio::time::timeout(settings.budget, lookup::resolve(&resolver, &dest, &settings)).await {
        Ok(r) => r,
        Err(_) => {
            counter!("sipedge_dns_budget_overruns_total").increment(1);
            log::warn!("dns: {dest} not resolved within its budget of {} ms", settings.budget.as_millis());
            Err(Failure::Budget)
        }
    };
    let label = match &result {
        Ok(_) => "ok",
        Err(f) => f.label(),
    };
    histogram!("sipedge_dns_resolve_seconds", "result" => label).record(start.elapsed().as_secs_f64());
    if let Err(f) = &result {
        if !matches!(f, Failure::NotFound { .. }) {
            log::info!("dns: {dest}: {label}");
        }
    }
    (dest, result)
}
