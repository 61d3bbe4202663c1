//! Two real softphones (Debian's baresip) over TLS through the real binary:
//! both register with digest auth on a TLS listener, Alice calls Bob (407
//! answered, Bob answers automatically, media flows between them), and
//! Alice's hang-up reaches Bob. The in-dialog requests (ACK, BYE) go down
//! the connection Bob registered on, owned by whichever shard accepted it.
//!
//! baresip 1.0 (libre) cannot answer a SHA-256 challenge (it gives up with
//! ENOSYS instead of using the MD5 one offered beside it). The edge runs the
//! shipped default (SHA-256 first, MD5 beside it) with one `[[profile]]` for
//! baresip's User-Agent offering it MD5 only; the profile's metric shows it
//! matched.

mod common;
use common::tls::*;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A baresip configuration directory for `user`: SIP on 127.0.0.1:`port`,
/// the edge's certificate as CA, opus with a sine tone as the microphone,
/// and one account registering over TLS (`extra`: account parameters).
fn phone(dir: &Path, user: &str, port: u16, edge_tls: u16, ca: &Path, extra: &str) -> PathBuf {
    let home = dir.join(user);
    std::fs::create_dir_all(&home).unwrap();
    let config = format!(
        "poll_method epoll\nsip_listen 127.0.0.1:{port}\nsip_cafile {}\naudio_player aufile,{}\naudio_source ausine,440\naudio_alert aufile,/dev/null\n\
         module_path /usr/lib/baresip/modules\nmodule opus.so\nmodule ausine.so\nmodule aufile.so\nmodule uuid.so\nmodule_app account.so\nmodule_app menu.so\n",
        ca.display(),
        home.join("heard.wav").display()
    );
    std::fs::write(home.join("config"), config).unwrap();
    let account = format!("<sip:{user}@127.0.0.1:{edge_tls};transport=tls>;auth_pass={user}-pw;regint=600{extra}\n");
    std::fs::write(home.join("accounts"), account).unwrap();
    home
}

/// baresip with `home`, quitting after `secs`, running `commands` at start.
fn start(home: &Path, secs: u32, commands: &[&str]) -> Child {
    let log = std::fs::File::create(home.join("log")).unwrap();
    let mut cmd = Command::new("baresip");
    cmd.arg("-f").arg(home).args(["-t", &secs.to_string()]);
    for c in commands {
        cmd.args(["-e", c]);
    }
    cmd.stdin(Stdio::null())
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()
        .expect("baresip is not installed: tests/run.sh installs baresip-core")
}

fn log_of(home: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(home.join("log")).unwrap_or_default()).replace('\r', "\n")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_baresip_phones_register_over_tls_and_call_each_other() {
    let dir = test_dir("baresip");
    // libre checks the certificate's CN against the address it dialled.
    let cert = self_signed(&dir, "edge", "/CN=127.0.0.1", "IP:127.0.0.1");
    let users = dir.join("users.txt");
    std::fs::write(&users, "alice 127.0.0.1 password=alice-pw\nbob 127.0.0.1 password=bob-pw\n").unwrap();
    let tls = free_port();
    let extra = format!(
        "\n[[listen]]\ntransport = \"tls\"\naddr = \"127.0.0.1:{tls}\"\ncertificates = [{{ cert = \"{}\", key = \"{}\" }}]\n\n\
         [registrar]\ndomains = [\"127.0.0.1\"]\n\n[auth]\nusers_file = \"{}\"\n\n\
         [[profile]]\nname = \"baresip\"\nuser_agent = [\"baresip\"]\nauth_algorithms = [\"MD5\"]\n",
        cert.0.display(),
        cert.1.display(),
        users.display()
    );
    let edge = Edge::start(2, &extra);

    let bob = phone(&dir, "bob", free_port(), tls, &cert.0, ";answermode=auto");
    let mut bob_proc = start(&bob, 30, &[]);
    wait_until(
        "Bob's registration",
        || {
            http_get(edge.admin, "/registrations/bob@127.0.0.1")
                .is_some_and(|(_, b)| b.contains("\"transport\":\"tls\""))
        },
        10,
    );

    let alice = phone(&dir, "alice", free_port(), tls, &cert.0, "");
    let mut alice_proc = start(&alice, 6, &[&format!("/dial sip:bob@127.0.0.1:{tls};transport=tls")]);
    let status = alice_proc.wait().unwrap();
    assert!(status.success(), "alice: {status}\n{}", log_of(&alice));
    let alice_log = log_of(&alice);
    assert!(alice_log.contains("{0/TLS/v4} 200 OK"), "Alice registered over TLS:\n{alice_log}");
    assert!(alice_log.contains("Call established"), "Alice's call:\n{alice_log}");
    // Media went between the phones (the edge does not relay it).
    assert!(alice_log.contains("incoming rtp for 'audio' established"), "{alice_log}");
    // Alice quit and hung up: the BYE reached Bob over his connection.
    wait_until("Bob to see the BYE", || log_of(&bob).contains("terminated"), 10);
    let bob_log = log_of(&bob);
    assert!(bob_log.contains("answering call"), "{bob_log}");
    let _ = bob_proc.kill();
    let _ = bob_proc.wait();

    assert!(
        edge.wait_metric("sipedge_proxy_challenges_total", &[], |v| v >= 1.0) >= 1.0,
        "the INVITE was challenged (407)"
    );
    assert_eq!(edge.metric("sipedge_flow_failures_total", &[]), 0.0);
    assert!(edge.metric("sipedge_profile_requests_total", &["profile=\"baresip\""]) > 0.0, "the profile matched");
}
