//! The connection to Redis: one Redis (`redis::Connection`) or a Redis
//! Cluster (the crate's sync `ClusterConnection`, when `[cluster] redis`
//! lists several seeds); a connect deadline and a read/write deadline on
//! every round trip; one pipeline per round; server error replies kept per
//! command, a broken connection reported for the whole round (the caller
//! drops the link and reconnects).

use super::scripts::{Call, Scripts};
use redis::cluster::{ClusterClientBuilder, ClusterConnection};
use redis::{Cmd, RedisError, Value};
use std::time::Duration;

/// One command's reply: a value, or the server's error reply (as text).
pub type Reply = Result<Value, String>;

enum Conn {
    Single(redis::Connection),
    Cluster(Box<ClusterConnection>),
}

pub struct Link {
    conn: Conn,
    /// How scripts are called on this link.
    pub call: Call,
}

/// Where and how fast.
#[derive(Clone, Debug)]
pub struct Target {
    pub urls: Vec<String>,
    /// One round trip's deadline.
    pub timeout: Duration,
}

impl Target {
    /// Connecting (TCP, AUTH, the first PING) may take a few round trips.
    pub fn connect_timeout(&self) -> Duration {
        (self.timeout * 4).max(Duration::from_millis(200))
    }
}

/// The text an operator reads for an error.
pub fn describe(e: &RedisError) -> String {
    e.to_string()
}

/// Whether `e` is the server's answer to one command (the connection is fine).
fn is_reply(e: &RedisError) -> bool {
    e.code().is_some() && !e.is_io_error() && !e.is_cluster_error()
}

fn server_error(v: Value) -> Reply {
    match v {
        Value::ServerError(e) => Err(match e.details() {
            Some(d) => format!("{} {d}", e.code()),
            None => e.code().to_string(),
        }),
        v => Ok(v),
    }
}

impl Link {
    /// Connects, checks the server answers PING, and (one Redis) loads the
    /// scripts when `call` is `Sha`. A Redis Cluster always calls by text.
    pub fn connect(target: &Target, scripts: &Scripts, call: Call) -> Result<Link, String> {
        let timeout = target.connect_timeout();
        let mut link = if target.urls.len() > 1 {
            let client = ClusterClientBuilder::new(target.urls.iter().map(String::as_str))
                .connection_timeout(timeout)
                .response_timeout(target.timeout)
                .retries(1)
                .min_retry_wait(10)
                .max_retry_wait(50)
                .build()
                .map_err(|e| describe(&e))?;
            let conn = client.get_connection().map_err(|e| describe(&e))?;
            Link { conn: Conn::Cluster(Box::new(conn)), call: Call::Text }
        } else {
            let url = target.urls.first().ok_or("no Redis URL")?;
            let client = redis::Client::open(url.as_str()).map_err(|e| describe(&e))?;
            let conn = client.get_connection_with_timeout(timeout).map_err(|e| describe(&e))?;
            conn.set_read_timeout(Some(timeout)).map_err(|e| describe(&e))?;
            conn.set_write_timeout(Some(timeout)).map_err(|e| describe(&e))?;
            Link { conn: Conn::Single(conn), call }
        };
        match link.query(&redis::cmd("PING")).map_err(|e| describe(&e))? {
            Ok(Value::SimpleString(s)) if s == "PONG" => {}
            Ok(v) => return Err(format!("PING answered {v:?}")),
            Err(e) => return Err(e),
        }
        if link.call == Call::Sha {
            link.load(scripts)?;
        }
        link.set_timeout(target.timeout).map_err(|e| describe(&e))?;
        Ok(link)
    }

    fn set_timeout(&mut self, t: Duration) -> redis::RedisResult<()> {
        match &mut self.conn {
            Conn::Single(c) => {
                c.set_read_timeout(Some(t))?;
                c.set_write_timeout(Some(t))
            }
            Conn::Cluster(c) => {
                c.set_read_timeout(Some(t))?;
                c.set_write_timeout(Some(t))
            }
        }
    }

    /// SCRIPT LOAD of every script (checking the server agrees on each hash).
    fn load(&mut self, scripts: &Scripts) -> Result<(), String> {
        for s in scripts.all() {
            let reply = self.query(redis::cmd("SCRIPT").arg("LOAD").arg(s.code)).map_err(|e| describe(&e))??;
            match reply {
                Value::BulkString(b) if b == s.sha.as_bytes() => {}
                v => return Err(format!("SCRIPT LOAD answered {v:?}")),
            }
        }
        Ok(())
    }

    /// One command.
    pub fn query(&mut self, cmd: &Cmd) -> redis::RedisResult<Reply> {
        let r = match &mut self.conn {
            Conn::Single(c) => cmd.query::<Value>(c),
            Conn::Cluster(c) => cmd.query::<Value>(&mut **c),
        };
        match r {
            Ok(v) => Ok(server_error(v)),
            Err(e) if is_reply(&e) => Ok(Err(describe(&e))),
            Err(e) => Err(e),
        }
    }

    /// One round trip for `cmds`: a reply per command, in order; `Err` when
    /// the connection failed (timed out, closed, spoke garbage): the link
    /// must be dropped. Script calls refused with NOSCRIPT (the server lost
    /// its script cache) are loaded and sent again once.
    pub fn pipeline(&mut self, cmds: &[Cmd], scripts: &Scripts) -> redis::RedisResult<Vec<Reply>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        let mut replies = self.round(cmds)?;
        let lost: Vec<usize> =
            (0..replies.len()).filter(|&i| matches!(&replies[i], Err(e) if e.starts_with("NOSCRIPT"))).collect();
        if !lost.is_empty() {
            if let Err(e) = self.load(scripts) {
                log::warn!("store: reloading the scripts failed: {e}");
                return Ok(replies);
            }
            let again: Vec<Cmd> = lost.iter().map(|&i| cmds[i].clone()).collect();
            for (i, r) in lost.into_iter().zip(self.round(&again)?) {
                replies[i] = r;
            }
        }
        Ok(replies)
    }

    fn round(&mut self, cmds: &[Cmd]) -> redis::RedisResult<Vec<Reply>> {
        match &mut self.conn {
            Conn::Single(c) => {
                let mut pipe = redis::Pipeline::with_capacity(cmds.len());
                for cmd in cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.ignore_errors();
                match pipe.query::<Value>(c)? {
                    Value::Array(items) if items.len() == cmds.len() => {
                        Ok(items.into_iter().map(server_error).collect())
                    }
                    v => Err(RedisError::from((redis::ErrorKind::Parse, "pipeline reply", format!("{v:?}")))),
                }
            }
            Conn::Cluster(c) => {
                let mut pipe = redis::cluster::ClusterPipeline::with_capacity(cmds.len());
                for cmd in cmds {
                    pipe.add_command(cmd.clone());
                }
                match pipe.query::<Vec<Value>>(c) {
                    Ok(items) if items.len() == cmds.len() => Ok(items.into_iter().map(server_error).collect()),
                    Ok(_) => Err(RedisError::from((redis::ErrorKind::Parse, "pipeline reply length"))),
                    // The cluster pipeline gives no value back when one
                    // command failed: every command here can be sent again
                    // without changing its effect (the scripts treat an equal
                    // CSeq as a retransmission), so each goes alone.
                    Err(e) if e.clone().into_server_errors().is_some() => {
                        cmds.iter().map(|cmd| self.query(cmd)).collect()
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }
}
