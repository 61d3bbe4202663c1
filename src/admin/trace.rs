//! `GET /trace`, `POST /trace/{rule}`, `DELETE /trace/{rule}`: the rules of
//! the per-request trace log (`core::trace`): an AOR, an IP or a method,
//! typed as an operator would (`alice@example.com`, `192.0.2.7`, `INVITE`).
//! The control thread holds them and hands every shard the new set; the
//! answer is the rules in force, as JSON `{"trace": ["INVITE", ...]}`.

use crate::control::Request;
use crate::core::trace::TraceRule;
use crossbeam_channel::{bounded, Sender};

type Answer = (u16, &'static str, String);

/// The answer when the request is about the trace, else None.
pub fn route(method: &tiny_http::Method, url: &str, control: &Sender<Request>) -> Option<Answer> {
    use tiny_http::Method::{Delete, Get, Post};
    const TEXT: &str = "text/plain; charset=utf-8";
    let change = match (method, url) {
        (Get, "/trace") => None,
        (Post | Delete, path) if path.starts_with("/trace/") => {
            match TraceRule::parse(&super::percent_decode(&path["/trace/".len()..])) {
                Ok(rule) => Some((*method == Post, rule)),
                Err(e) => return Some((400, TEXT, format!("{e}\n"))),
            }
        }
        _ => return None,
    };
    let (tx, rx) = bounded(1);
    if control.send_timeout(Request::Trace { change, reply: tx }, super::ANSWER_WAIT).is_err() {
        return Some((503, TEXT, "control thread busy\n".into()));
    }
    Some(match rx.recv_timeout(super::ANSWER_WAIT) {
        Ok(Ok(rules)) => (200, "application/json", rules_json(&rules)),
        Ok(Err(e)) if e.contains("not traced") => (404, TEXT, format!("{e}\n")),
        Ok(Err(e)) => (503, TEXT, format!("{e}\n")),
        Err(_) => (503, TEXT, "the control thread did not answer\n".into()),
    })
}

/// `{"trace": [...]}`, each rule as the operator sees it.
pub fn rules_json(rules: &[TraceRule]) -> String {
    serde_json::json!({ "trace": rules.iter().map(TraceRule::label).collect::<Vec<_>>() }).to_string()
}
