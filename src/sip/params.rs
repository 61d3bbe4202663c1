//! The `;name[=value]` parameter lists shared by URIs, name-addrs and Via:
//! tolerant of LWS (and folding) around `;` and `=`, quoted values kept with
//! their quotes. Offsets are relative to the slice handed in, so callers can
//! splice around a parameter (Via stamping) without re-parsing.

use super::header::is_lws;

/// One parameter; all offsets index the slice given to [`ParamIter::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawParam {
    /// From the end of the previous parameter (LWS before `;` included).
    pub whole: (usize, usize),
    pub name: (usize, usize),
    /// `None` for a flag; `Some` (possibly empty) after `=`.
    pub value: Option<(usize, usize)>,
}

pub(crate) struct ParamIter<'a> {
    b: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> ParamIter<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        ParamIter { b, pos: 0, failed: false }
    }
}

/// Bytes that end a parameter name: LWS, `;`, `=`, `,`, `"`.
static NAME_STOP: [bool; 256] = stop_table(b" \t\r\n;=,\"");
/// Bytes that end an unquoted parameter value: LWS, `;`, `,`.
static VALUE_STOP: [bool; 256] = stop_table(b" \t\r\n;,");

const fn stop_table(stops: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < stops.len() {
        t[stops[i] as usize] = true;
        i += 1;
    }
    t
}

#[inline]
fn skip_lws(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && is_lws(b[p]) {
        p += 1;
    }
    p
}

/// End of a quoted string starting at `p` (which holds `"`): index after the closing quote.
pub(crate) fn quoted_end(b: &[u8], p: usize) -> Option<usize> {
    let mut i = p + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

impl<'a> Iterator for ParamIter<'a> {
    /// `Err(())` once on malformed input, then the iterator ends.
    type Item = Result<RawParam, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let b = self.b;
        let start = self.pos;
        let mut p = skip_lws(b, start);
        if p >= b.len() {
            return None;
        }
        if b[p] != b';' {
            self.failed = true;
            return Some(Err(()));
        }
        p = skip_lws(b, p + 1);
        let ns = p;
        while p < b.len() && !NAME_STOP[b[p] as usize] {
            p += 1;
        }
        if p == ns {
            self.failed = true;
            return Some(Err(()));
        }
        let name = (ns, p);
        let mut end = p;
        let q = skip_lws(b, p);
        let mut value = None;
        if q < b.len() && b[q] == b'=' {
            let vs = skip_lws(b, q + 1);
            let ve = if vs < b.len() && b[vs] == b'"' {
                match quoted_end(b, vs) {
                    Some(e) => e,
                    None => {
                        self.failed = true;
                        return Some(Err(()));
                    }
                }
            } else {
                let mut e = vs;
                while e < b.len() && !VALUE_STOP[b[e] as usize] {
                    e += 1;
                }
                e
            };
            value = Some((vs, ve));
            end = ve;
        }
        // Only `;` (or the end) may follow a parameter.
        let after = skip_lws(b, end);
        if after < b.len() && b[after] != b';' {
            self.failed = true;
            return Some(Err(()));
        }
        self.pos = end;
        Some(Ok(RawParam { whole: (start, end), name, value }))
    }
}

/// Case-insensitive lookup: `Some(None)` for a flag, `Some(Some(v))` for `name=v`.
pub(crate) fn find_param<'a>(b: &'a [u8], name: &str) -> Option<Option<&'a [u8]>> {
    for p in ParamIter::new(b) {
        let Ok(p) = p else { return None };
        if b[p.name.0..p.name.1].eq_ignore_ascii_case(name.as_bytes()) {
            return Some(p.value.map(|(s, e)| &b[s..e]));
        }
    }
    None
}

/// Whether the whole list is well formed.
pub(crate) fn params_valid(b: &[u8]) -> bool {
    ParamIter::new(b).all(|p| p.is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lws_and_flags() {
        let b = b" ;  tag = 98asjd8 ;lr; q=\"a;b\"";
        assert_eq!(find_param(b, "TAG"), Some(Some(&b"98asjd8"[..])));
        assert_eq!(find_param(b, "lr"), Some(None));
        assert_eq!(find_param(b, "q"), Some(Some(&b"\"a;b\""[..])));
        assert_eq!(find_param(b, "x"), None);
        assert!(params_valid(b));
    }

    #[test]
    fn folded() {
        let b = b"   ;\r\n  branch  =   z9hG4bK9ikj8  ";
        assert_eq!(find_param(b, "branch"), Some(Some(&b"z9hG4bK9ikj8"[..])));
    }

    #[test]
    fn malformed() {
        assert!(!params_valid(b";;"));
        assert!(!params_valid(b";a=b c"));
        assert!(!params_valid(b";q=\"open"));
        assert!(!params_valid(b"x;a"));
        assert!(params_valid(b""));
        assert!(params_valid(b";rport="));
        assert_eq!(find_param(b";rport=", "rport"), Some(Some(&b""[..])));
    }

    #[test]
    fn stop_tables() {
        for c in 0..=255u8 {
            assert_eq!(NAME_STOP[c as usize], is_lws(c) || matches!(c, b';' | b'=' | b',' | b'"'));
            assert_eq!(VALUE_STOP[c as usize], is_lws(c) || matches!(c, b';' | b','));
        }
    }

    #[test]
    fn whole_spans() {
        let b = b";a=1 ; b";
        let v: Vec<_> = ParamIter::new(b).map(|p| p.unwrap().whole).collect();
        assert_eq!(v, vec![(0, 4), (4, 8)]);
    }
}
