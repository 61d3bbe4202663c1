//! Config loading: the embedded default is valid and complete, and every
//! kind of bad input names file, line, column and key.

use super::*;

#[test]
fn embedded_default_loads_with_documented_values() {
    let c = Config::embedded();
    assert_eq!(c.listen.len(), 2);
    assert_eq!(c.listen[0].addr, "127.0.0.1:5060".parse().unwrap());
    assert_eq!(c.listen[1].transport, Transport::Tcp);
    assert_eq!(c.admin.addr.port(), 9060);
    assert_eq!(c.server.shards.get(), 0);
    assert_eq!(c.limits.max_message_bytes.get(), 65535);
}

/// The two listeners of the embedded default, and nothing else.
fn default_listeners() -> String {
    let start = DEFAULT_TOML.find("\n[[listen]]").unwrap();
    let end = DEFAULT_TOML.find("\n[admin]").unwrap();
    DEFAULT_TOML[start..end].to_string()
}

/// The defaults are the `Default` impls (what serde gives an omitted key);
/// `default.toml` shows each of them. A value written differently in one of
/// the two places fails here.
#[test]
fn every_value_in_the_embedded_file_is_the_default_in_code() {
    let omitted = Config::parse(&default_listeners(), "listeners only").unwrap();
    let embedded = Config::embedded();
    assert_eq!(embedded.listen.len(), 2);
    macro_rules! same {
        ($($table:ident),*) => {$(
            assert_eq!(embedded.$table, omitted.$table, concat!("[", stringify!($table), "]: default.toml and its Default impl differ"));
        )*};
    }
    same!(server, admin, limits, log, metrics, registrar, auth, proxy, tls, hygiene, hep, protect, cluster);
    assert_eq!(embedded, omitted, "default.toml and the Default impls of config/ differ");
}

/// Keys of a table as the schema knows them, read from serde's refusal of
/// an unknown key (the schema has no other list of its field names).
/// `""` is the top level.
fn schema_keys(table: &str) -> Vec<String> {
    let e = if table.is_empty() {
        err(&format!("no_such_key_ = 0\n{ONE_LISTENER}"))
    } else {
        err(&format!("{ONE_LISTENER}[{table}]\nno_such_key_ = 0\n"))
    };
    let expected = e.message.split_once("expected").unwrap_or_else(|| panic!("{e}")).1;
    expected.split('`').skip(1).step_by(2).map(String::from).collect()
}

/// `default.toml` shows every key of every table (the arrays of tables
/// `proxy.route` and `protect.limit` are commented examples, empty by default).
#[test]
fn the_embedded_file_shows_every_key() {
    let doc: toml::Table = DEFAULT_TOML.parse().unwrap();
    let tables = [
        "server",
        "admin",
        "limits",
        "log",
        "metrics",
        "registrar",
        "auth",
        "proxy",
        "tls",
        "hygiene",
        "hep",
        "protect",
        "protect.flood",
        "protect.auth_ban",
        "cluster",
    ];
    for t in &schema_keys("") {
        // `[[profile]]` is an array of tables, a commented example by default.
        assert!(doc.contains_key(t.as_str()) != (t == "profile"), "default.toml has no [{t}]");
    }
    assert!(DEFAULT_TOML.contains("# [[profile]]"), "the profile example");
    for table in tables {
        let shown = table.split('.').fold(&doc, |t, k| t[k].as_table().unwrap_or_else(|| panic!("[{table}]")));
        let keys = schema_keys(table);
        assert!(!keys.is_empty(), "{table}: no keys read from {keys:?}");
        for k in keys {
            let example_only = matches!((table, k.as_str()), ("proxy", "route") | ("protect", "limit"));
            assert!(
                shown.contains_key(&k) != example_only,
                "[{table}] {k}: default.toml must show it (with its default value)"
            );
        }
    }
}

fn err(text: &str) -> ConfigError {
    Config::parse(text, "t.toml").unwrap_err()
}

#[test]
fn unknown_key_is_an_error_with_position() {
    let e = err("[server]\nshards = 1\nbogus = 2\n[[listen]]\ntransport=\"udp\"\naddr=\"127.0.0.1:5060\"\n");
    assert_eq!(e.file, "t.toml");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("bogus"), "{e}");
}

#[test]
fn bad_transport_names_the_key() {
    let e = err("[[listen]]\ntransport = \"sctp\"\naddr = \"127.0.0.1:5060\"\n");
    assert_eq!(e.line, 2, "{e}");
    assert_eq!(e.key, "listen[0].transport", "{e}");
}

#[test]
fn bad_address_names_the_key() {
    let e = err("[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1\"\n");
    assert_eq!(e.line, 3, "{e}");
    assert_eq!(e.key, "listen[0].addr", "{e}");
}

#[test]
fn out_of_range_integer_is_refused() {
    let e = err("[limits]\nmax_message_bytes = 10\n[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n");
    assert_eq!((e.line, e.key.as_str()), (2, "limits.max_message_bytes"), "{e}");
    assert!(e.message.contains("between 1024 and 65535"), "{e}");
}

#[test]
fn duplicate_listener_is_refused() {
    let t = "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n";
    let e = err(t);
    assert_eq!((e.line, e.key.as_str()), (4, "listen[1]"), "{e}");
}

#[test]
fn no_listener_is_refused() {
    assert_eq!(err("[server]\nshards = 2\n").key, "listen");
}

#[test]
fn syntax_error_has_a_line() {
    let e = err("[server\nshards = 1\n");
    assert_eq!(e.line, 1, "{e}");
}

const ONE_LISTENER: &str = "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n";

#[test]
fn bad_secret_and_algorithm_are_refused_with_their_keys() {
    let e = err(&format!("{ONE_LISTENER}[auth]\nsecret = \"abc\"\n"));
    assert_eq!((e.line, e.key.as_str()), (5, "auth.secret"), "{e}");
    let e = err(&format!("{ONE_LISTENER}[auth]\nalgorithms = [\"MD5\", \"SHA-1\"]\n"));
    assert_eq!((e.line, e.key.as_str()), (5, "auth.algorithms[1]"), "{e}");
    let ok = Config::parse(&format!("{ONE_LISTENER}[auth]\nsecret = \"{}\"\n", "ab".repeat(32)), "t").unwrap();
    assert_eq!(ok.auth.secret.0, Some([0xab; 32]));
}

#[test]
fn expiry_bounds_must_be_ordered() {
    let e = err(&format!("{ONE_LISTENER}[registrar]\nmin_expires = 100\ndefault_expires = 50\n"));
    assert_eq!((e.line, e.key.as_str()), (4, "registrar"), "{e}");
}

#[test]
fn tls_listeners_need_certificates_and_only_they_have_them() {
    let e = err("[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n[[listen]]\ntransport = \"tls\"\naddr = \"127.0.0.1:5061\"\n");
    assert_eq!((e.line, e.key.as_str()), (4, "listen[1].certificates"), "{e}");
    let e = err("[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\ncertificates = [{ cert = \"a.pem\", key = \"a.key\" }]\n");
    assert_eq!((e.line, e.key.as_str()), (1, "listen[0].certificates"), "{e}");
    let e = err("[[listen]]\ntransport = \"tcp\"\naddr = \"127.0.0.1:5060\"\nclient_ca = \"ca.pem\"\n");
    assert_eq!(e.key, "listen[0].client_ca", "{e}");
    let ok = Config::parse("[[listen]]\ntransport = \"tls\"\naddr = \"127.0.0.1:5061\"\ncertificates = [{ cert = \"a.pem\", key = \"a.key\" }]\n", "t.toml").unwrap();
    assert_eq!(ok.listen[0].certificates[0].key, "a.key");
}

#[test]
fn outgoing_tls_settings_are_checked_with_their_line() {
    let listen = "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n";
    let e = err(&format!(
        "{listen}[[proxy.route]]\nupstreams = [{{ addr = \"10.0.0.1:5060\", server_name = \"core.example\" }}]\n"
    ));
    assert_eq!((e.line, e.key.as_str()), (4, "proxy.route[0].upstreams[0].server_name"), "{e}");
    let e = err(&format!("{listen}\n[tls]\nclient_cert = \"/etc/edge.pem\"\n"));
    assert_eq!((e.line, e.key.as_str()), (5, "tls.client_key"), "{e}");
    let ok = Config::parse(&format!("{listen}[[proxy.route]]\nupstreams = [{{ addr = \"10.0.0.1:5061\", transport = \"tls\", server_name = \"core.example\" }}]\n"), "t.toml").unwrap();
    assert_eq!(ok.proxy.route[0].upstreams[0].server_name, "core.example");
    assert_eq!(Config::embedded().tls.key_log, "", "the key log is off by default");
}

#[test]
fn websocket_listeners_follow_the_tls_rules_and_do_not_share_a_tcp_socket() {
    let wss = "[[listen]]\ntransport = \"wss\"\naddr = \"127.0.0.1:8443\"\ncertificates = [{ cert = \"a.pem\", key = \"a.key\" }]\nclient_ca = \"ca.pem\"\n";
    let ok =
        Config::parse(&format!("[[listen]]\ntransport = \"ws\"\naddr = \"127.0.0.1:8080\"\n{wss}"), "t.toml").unwrap();
    assert_eq!((ok.listen[0].transport, ok.listen[1].transport), (Transport::Ws, Transport::Wss));
    let e = err("[[listen]]\ntransport = \"ws\"\naddr = \"127.0.0.1:8080\"\n[[listen]]\ntransport = \"wss\"\naddr = \"127.0.0.1:8443\"\n");
    assert_eq!((e.line, e.key.as_str()), (4, "listen[1].certificates"), "{e}");
    assert!(e.message.contains("a wss listener needs certificates"), "{e}");
    let e = err("[[listen]]\ntransport = \"ws\"\naddr = \"127.0.0.1:8080\"\nclient_ca = \"ca.pem\"\n");
    assert_eq!((e.line, e.key.as_str()), (1, "listen[0].client_ca"), "{e}");
    let e = err("[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n[[listen]]\ntransport = \"tcp\"\naddr = \"127.0.0.1:5060\"\n[[listen]]\ntransport = \"ws\"\naddr = \"127.0.0.1:5060\"\n");
    assert_eq!((e.file.as_str(), e.line, e.key.as_str()), ("t.toml", 7, "listen[2]"), "{e}");
    assert!(e.message.contains("tcp and ws share the TCP socket"), "{e}");
}

#[test]
fn an_upstream_cannot_be_a_websocket() {
    let e = err(&format!("{ONE_LISTENER}[[proxy.route]]\nupstreams = [{{ addr = \"10.0.0.1:5060\" }}, {{ addr = \"10.0.0.2:80\", transport = \"ws\" }}]\n"));
    assert_eq!((e.line, e.key.as_str()), (4, "proxy.route[0].upstreams[1].transport"), "{e}");
}

#[test]
fn steering_defaults_to_none_and_names_its_line_when_wrong() {
    assert_eq!(Config::embedded().server.steering, Steering::Hash);
    assert_eq!(Server::default().steering, Steering::Hash);
    let ok = |v: &str| {
        Config::parse(
            &format!("[server]\nsteering = \"{v}\"\n[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n"),
            "t.toml",
        )
        .map(|c| c.server.steering)
    };
    assert_eq!(ok("cbpf").unwrap(), Steering::Cbpf);
    assert_eq!(ok("incoming-cpu").unwrap(), Steering::IncomingCpu);
    assert_eq!(ok("none").unwrap(), Steering::Hash);
    let e = ok("ebpf").unwrap_err();
    assert_eq!((e.file.as_str(), e.line, e.key.as_str()), ("t.toml", 2, "server.steering"), "{e}");
    assert!(e.message.contains("cbpf") && e.message.contains("incoming-cpu"), "{e}");
}

#[test]
fn hep_defaults_and_collector_forms() {
    let c = Config::embedded();
    let d = Hep::default();
    assert_eq!(c.hep.collector, Collector::Off);
    assert_eq!((c.hep.queue, c.hep.sample, c.hep.agent_id), (d.queue, d.sample, d.agent_id));
    let base = "[[listen]]\ntransport=\"udp\"\naddr=\"127.0.0.1:5060\"\n[hep]\n";
    let hep = |s: &str| Config::parse(&format!("{base}{s}\n"), "t.toml").map(|c| c.hep);
    assert_eq!(
        hep("collector = \"udp:10.0.0.9:9060\"").unwrap().collector,
        Collector::Udp("10.0.0.9:9060".parse().unwrap())
    );
    assert_eq!(hep("collector = \"tcp:[::1]:9061\"").unwrap().collector, Collector::Tcp("[::1]:9061".parse().unwrap()));
    let h = hep("sample = 0.25\nsources = [\"10.0.0.0/8\"]\naors = [\"*@example.com\"]\nmethods = [\"INVITE\"]\nagent_id = 7\npassword = \"x\"").unwrap();
    assert_eq!(
        (h.sample.0, h.sources.len(), h.aors[0].0.as_str(), h.methods[0].0.as_str(), h.agent_id.get()),
        (0.25, 1, "*@example.com", "INVITE", 7)
    );
}

#[test]
fn hep_errors_name_line_and_key() {
    let base = "[[listen]]\ntransport=\"udp\"\naddr=\"127.0.0.1:5060\"\n[hep]\n";
    for (bad, key, says) in [
        ("collector = \"sctp:10.0.0.9:9060\"", "hep.collector", "udp:IP:port"),
        ("collector = \"udp:collector.example:9060\"", "hep.collector", "no DNS"),
        ("sample = 1.5", "hep.sample", "between 0.0 and 1.0"),
        ("sources = [\"10.0.0.0/33\"]", "hep.sources[0]", ""),
        ("aors = [\"a*b@c\"]", "hep.aors[0]", "AOR pattern"),
        ("methods = [\"IN VITE\"]", "hep.methods[0]", "method"),
        ("queue = 1", "hep.queue", "out of range"),
        ("collecter = \"\"", "hep", "collecter"),
    ] {
        let e = Config::parse(&format!("{base}{bad}\n"), "t.toml").unwrap_err();
        assert_eq!(e.line, 5, "{bad}: {e}");
        assert!(e.key.starts_with(key), "{bad}: {e}");
        assert!(e.message.contains(says), "{bad}: {e}");
    }
}

#[test]
fn protect_table_checked() {
    let base = "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n";
    let c = Config::parse(base, "t").unwrap();
    assert_eq!(c.protect.flood.requests.get(), 1000);
    assert_eq!(c.protect.auth_ban.failures.get(), 10);
    assert!(c.protect.scanners.iter().any(|s| s == "friendly-scanner"));
    assert!(c.protect.limit.is_empty());
    let ok = format!("{base}[protect]\nallow = [\"10.0.0.0/8\"]\nmax_size = {{ INVITE = 8192 }}\n[[protect.limit]]\nname = \"r\"\nkey = \"user-agent\"\nrate = 0.5\nburst = 3\naction = \"drop\"\n");
    let c = Config::parse(&ok, "t").unwrap();
    assert_eq!(c.protect.limit[0].rate.0, 0.5);
    let err = |extra: &str| Config::parse(&format!("{base}{extra}"), "f.toml").unwrap_err().to_string();
    assert!(err("[protect]\nbogus = 1\n").starts_with("f.toml:5:"), "{}", err("[protect]\nbogus = 1\n"));
    let e = err("[protect]\nmax_size = { invite = 100 }\n");
    assert!(e.contains("protect.max_size") && e.contains("not a method name"), "{e}");
    let e = err("[[protect.limit]]\nname = \"r\"\nkey = \"ip\"\nrate = 0\nburst = 1\n");
    assert!(e.starts_with("f.toml:7:") && e.contains("protect.limit[0].rate"), "{e}");
    let e = err("[[protect.limit]]\nname = \"r\"\nkey = \"cookie\"\nrate = 1\nburst = 1\n");
    assert!(e.contains("protect.limit[0].key"), "{e}");
    let e = err("[[protect.limit]]\nname = \"r\"\nkey = \"ip\"\nrate = 1\nburst = 1\n[[protect.limit]]\nname = \"r\"\nkey = \"aor\"\nrate = 1\nburst = 1\n");
    assert!(e.starts_with("f.toml:9:") && e.contains("protect.limit[1].name"), "{e}");
    let e = err("[protect.flood]\nrequests = -1\n");
    assert!(e.contains("protect.flood.requests"), "{e}");
}

const CLUSTER_LISTENER: &str = "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.2:5060\"\n";

#[test]
fn an_enabled_cluster_needs_node_redis_peer_and_key() {
    let base = format!("{CLUSTER_LISTENER}[cluster]\nenabled = true\n");
    assert_eq!(err(&base).key, "cluster.node");
    let named = format!("{base}node = \"edge-a\"\n");
    assert_eq!(err(&named).key, "cluster.redis");
    let redis = format!("{named}redis = \"redis://127.0.0.1:6379\"\n");
    assert_eq!(err(&redis).key, "cluster.peer_addr");
    let unbound = format!("{redis}peer_addr = \"127.0.0.2:5070\"\n");
    let e = err(&unbound);
    assert!(e.key == "cluster.peer_addr" && e.message.contains("no udp listener"), "{e}");
    let peer = format!("{redis}peer_addr = \"127.0.0.2:5060\"\n");
    assert_eq!(err(&peer).key, "proxy.topology_key");
    let keyed = format!("[proxy]\ntopology_key = \"{}\"\n{peer}", "ab".repeat(32));
    let cfg = Config::parse(&keyed, "t.toml").unwrap();
    assert_eq!(cfg.cluster.redis.0, ["redis://127.0.0.1:6379"]);
}

#[test]
fn cluster_values_are_checked_where_they_are_written() {
    let e = err(&format!("{CLUSTER_LISTENER}[cluster]\nnode = \"edge a\"\n"));
    assert_eq!((e.key.as_str(), e.line), ("cluster.node", 5), "{e}");
    let e = err(&format!("{CLUSTER_LISTENER}[cluster]\nredis = [\"http://x\"]\n"));
    assert_eq!(e.key, "cluster.redis", "{e}");
    let e = err(&format!("{CLUSTER_LISTENER}[cluster]\npeer_addr = \"edge-a:5060\"\n"));
    assert_eq!(e.key, "cluster.peer_addr", "{e}");
    let seeds =
        format!("{CLUSTER_LISTENER}[cluster]\nredis = [\"redis://127.0.0.1:7000\", \"redis://127.0.0.1:7001\"]\n");
    assert_eq!(Config::parse(&seeds, "t").unwrap().cluster.redis.0.len(), 2);
}

#[test]
fn a_profile_cannot_offer_what_the_edge_does_not_accept_and_must_match_on_something() {
    let base = "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n[auth]\nalgorithms = [\"SHA-256\"]\n";
    let e =
        err(&format!("{base}[[profile]]\nname = \"old\"\nuser_agent = [\"baresip\"]\nauth_algorithms = [\"MD5\"]\n"));
    assert_eq!((e.key.as_str(), e.line), ("profile[0].auth_algorithms", 6), "{e}");
    let e = err(&format!("{base}[[profile]]\nname = \"any\"\n"));
    assert_eq!(e.key, "profile[0].user_agent", "{e}");
    let two = format!("{base}[[profile]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\n[[profile]]\nname = \"a\"\ntransports = [\"tls\"]\n");
    assert_eq!(err(&two).key, "profile[1].name");
    let ok = format!("{base}[[profile]]\nname = \"tls\"\ntransports = [\"tls\"]\nauth_algorithms = [\"SHA-256\"]\n");
    assert_eq!(Config::parse(&ok, "t").unwrap().profile.len(), 1);
}

#[test]
fn upstreams_by_name_and_the_dns_table_are_checked_with_their_line() {
    let ok = Config::parse(
        &format!("{ONE_LISTENER}[[proxy.route]]\nupstreams = [{{ addr = \"sip:core.example.net\" }}, {{ addr = \"trunk.example:5080\", transport = \"tcp\" }}]\n[dns]\nservers = [\"127.0.0.53:53\"]\n[dns.static]\n\"core.example.net\" = [\"10.0.0.10:5060\"]\n"),
        "t.toml",
    )
    .unwrap();
    assert!(matches!(&ok.proxy.route[0].upstreams[0].addr, UpstreamAddr::Name(n) if n.host == "core.example.net"));
    assert_eq!(ok.proxy.route[0].upstreams[1].transport(), Transport::Tcp);
    assert_eq!(ok.dns.statics.len(), 1);
    let e = err(&format!("{ONE_LISTENER}[[proxy.route]]\nupstreams = [{{ addr = \"core..example\" }}]\n"));
    assert_eq!((e.line, e.key.as_str()), (5, "proxy.route[0].upstreams[0].addr"), "{e}");
    let e = err(&format!(
        "{ONE_LISTENER}[[proxy.route]]\nupstreams = [{{ addr = \"sip:core.example;transport=tcp\", transport = \"udp\" }}]\n"
    ));
    assert_eq!(e.key, "proxy.route[0].upstreams[0].transport", "{e}");
    let e = err(&format!("{ONE_LISTENER}[proxy]\nt1_ms = 20\n[dns]\nbudget_ms = 2000\n"));
    assert_eq!(e.key, "dns.budget_ms", "{e}");
    let e = err(&format!("{ONE_LISTENER}[dns]\nservers = [\"dns.example\"]\n"));
    assert_eq!((e.line, e.key.as_str()), (5, "dns.servers[0]"), "{e}");
    let e = err(&format!("{ONE_LISTENER}[dns.static]\n\"not a name\" = [\"10.0.0.1:5060\"]\n"));
    assert_eq!(e.line, 5, "{e}");
    let e =
        err(&format!("{ONE_LISTENER}[registrar]\nmode = \"mid\"\nupstream = [{{ addr = \"core.example.net\" }}]\n"));
    assert_eq!(e.key, "registrar.upstream[0].addr", "{e}");
}

#[test]
fn a_profile_matched_by_user_agent_cannot_be_exempt_from_protection() {
    let e = err(&format!(
        "{ONE_LISTENER}[[profile]]\nname = \"x\"\nuser_agent = [\"PBX\"]\nexempt_from_protection = true\n"
    ));
    assert_eq!((e.line, e.key.as_str()), (4, "profile[0].exempt_from_protection"), "{e}");
    let e = err(&format!(
        "{ONE_LISTENER}[[profile]]\nname = \"x\"\nsources = [\"10.0.0.0/8\"]\nuser_agent = [\"PBX\"]\nexempt_from_protection = true\n"
    ));
    assert_eq!(e.key, "profile[0].exempt_from_protection", "{e}");
    let ok = Config::parse(
        &format!("{ONE_LISTENER}[[profile]]\nname = \"pbx\"\nsources = [\"10.0.0.0/8\"]\nexempt_from_protection = true\n[profile.map_answers.SUBSCRIBE]\n403 = 480\n"),
        "t.toml",
    )
    .unwrap();
    assert!(ok.profile[0].exempt_from_protection);
    let e = err(&format!("{ONE_LISTENER}[[profile]]\nname = \"x\"\nsources = [\"10.0.0.0/8\"]\n[profile.map_answers.SUBSCRIBE]\n200 = 480\n"));
    assert!(e.key.starts_with("profile[0].map_answers"), "{e}");
}

#[test]
fn a_profiles_header_rules_are_checked_with_their_line() {
    let p = format!("{ONE_LISTENER}[[profile]]\nname = \"x\"\nsources = [\"10.0.0.0/8\"]\n");
    let e = err(&format!("{p}strip_headers = [\"X-A-*\", \"Via\"]\n"));
    assert_eq!((e.line, e.key.as_str()), (7, "profile[0].strip_headers[1]"), "{e}");
    let e = err(&format!("{p}[profile.add_headers]\n\"Bad Name\" = \"v\"\n"));
    assert_eq!((e.line, e.key.as_str()), (4, "profile[0].add_headers"), "{e}");
    let ok =
        Config::parse(&format!("{p}strip_headers = [\"X-A-*\"]\n[profile.add_headers]\n\"X-B\" = \"1\"\n"), "t.toml")
            .unwrap();
    assert_eq!(ok.profile[0].add_headers.len(), 1);
}

#[test]
fn a_profiles_terms_nat_and_limits_are_checked_with_their_line() {
    let p = |body: &str| format!("{ONE_LISTENER}[[profile]]\nname = \"x\"\n{body}");
    let e = err(&p("user_agent = [\"gs\"]\nmin_expires = 9000\n"));
    assert_eq!((e.line, e.key.as_str()), (4, "profile[0].min_expires"), "min above [registrar]'s default and max: {e}");
    assert!(e.message.contains("unset ones taken from [registrar]"), "{e}");
    let ok = p("user_agent = [\"gs\"]\nmin_expires = 300\ndefault_expires = 300\nmax_expires = 600\nmax_contacts = 1\nflow_timer_secs = 30\nkeepalive_secs = 20\nnat = \"always\"\n");
    let ok = Config::parse(&ok, "t").unwrap();
    assert_eq!(ok.profile[0].expiry(&ok.registrar), (300, 300, 600));
    let e = err(&p("user_agent = [\"gs\"]\nkeepalive_secs = 2\n"));
    assert_eq!(e.key, "profile[0].keepalive_secs", "{e}");
    let e = err(&p("user_agent = [\"PBX\"]\nnat = \"never\"\n"));
    assert_eq!(
        (e.line, e.key.as_str()),
        (4, "profile[0].nat"),
        "a User-Agent cannot move where registrations are reached: {e}"
    );
    assert!(Config::parse(&p("sources = [\"192.0.2.0/24\"]\nnat = \"never\"\n"), "t").is_ok());
    let limit = "[[profile.limit]]\nname = \"r\"\nkey = \"ip\"\nrate = 1\nburst = 5\n";
    let twice = format!(
        "{ONE_LISTENER}[[protect.limit]]\nname = \"r\"\nkey = \"ip\"\nrate = 1\nburst = 5\n[[profile]]\nname = \"x\"\nuser_agent = [\"gs\"]\n{limit}"
    );
    let e = err(&twice);
    assert_eq!((e.line, e.key.as_str()), (12, "profile[0].limit[0].name"), "{e}");
    assert_eq!(Config::parse(&p(&format!("user_agent = [\"gs\"]\n{limit}")), "t").unwrap().profile[0].limit.len(), 1);
}
