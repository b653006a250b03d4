//! The one way docflow shows a URL: without its secrets. Every URL that reaches a log line,
//! an error message, `/readyz` or command output (NATS, database, S3, provider) goes through
//! [`url`]; messages from libraries that may quote a URL (reqwest, sqlx) go through [`text`].
//!
//! What is masked: the password of `user:password@` (the user name stays, it says which
//! account); the whole user part of a NATS URL without a password (`nats://TOKEN@host` is
//! how NATS spells a token); and the value of every query parameter whose name says it
//! carries a credential (`password`, `secret`, `token`, `key`, `signature`, `credential`).

/// What replaces a secret.
pub const MASK: &str = "***";

/// `url` without its secrets. A comma-separated NATS server list is redacted server by
/// server. Text that is not a URL comes back unchanged.
pub fn url(url: &str) -> String {
    let nats = ["nats://", "tls://", "ws://", "wss://"].iter().any(|scheme| url.starts_with(scheme));
    if nats && url.contains(',') {
        // A server list: split where the next piece is a URL of its own (a password may
        // hold a comma).
        let mut servers: Vec<String> = Vec::new();
        for piece in url.split(',') {
            match servers.last_mut() {
                Some(last) if !piece.contains("://") => {
                    last.push(',');
                    last.push_str(piece);
                }
                _ => servers.push(piece.to_owned()),
            }
        }
        return servers.iter().map(|server| one_url(server, true)).collect::<Vec<_>>().join(",");
    }
    one_url(url, nats)
}

fn one_url(url: &str, nats: bool) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The user part ends at the last `@` before the query: a password may hold `/`.
    let query_start = rest.find(['?', '#']).unwrap_or(rest.len());
    let (userinfo, after) = match rest[..query_start].rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let mut out = format!("{scheme}://");
    if let Some(info) = userinfo {
        match info.split_once(':') {
            Some((user, _password)) => out.push_str(&format!("{user}:{MASK}@")),
            None if nats => out.push_str(&format!("{MASK}@")),
            None => out.push_str(&format!("{info}@")),
        }
    }
    out.push_str(&mask_query(after));
    out
}

/// `text` with every URL in it (a word starting with `scheme://`) passed through [`url`]:
/// for error messages of libraries that quote the URL they failed on.
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("://") {
        // The scheme: the letters, digits, `+`, `-`, `.` just before `://`.
        let start = rest[..found]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        if start == found {
            out.push_str(&rest[..found + 3]);
            rest = &rest[found + 3..];
            continue;
        }
        // The URL ends at whitespace or a closing bracket or quote.
        let end = rest[found..]
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ']'))
            .map_or(rest.len(), |i| found + i);
        out.push_str(&rest[..start]);
        out.push_str(&url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Masks the values of credential-carrying query parameters in `host/path?query#fragment`.
fn mask_query(after_userinfo: &str) -> String {
    let Some((head, query)) = after_userinfo.split_once('?') else {
        return after_userinfo.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}={MASK}"),
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = format!("{head}?{}", pairs.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "secret", "token", "key", "signature", "credential", "auth"].iter().any(|word| name.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_and_user_names_kept() {
        assert_eq!(url("postgres://u:secret@db:5432/docflow"), "postgres://u:***@db:5432/docflow");
        assert_eq!(url("nats://docflow:pw@nats:4222"), "nats://docflow:***@nats:4222");
        assert_eq!(url("https://user:pa/ss@api.example/v1"), "https://user:***@api.example/v1");
        assert_eq!(url("postgres://u:p@ss@db/x"), "postgres://u:***@db/x");
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        for plain in [
            "postgres://127.0.0.1/docflow",
            "postgres://postgres@127.0.0.1/docflow",
            "sqlite://var/docflow.db?mode=rwc",
            "http://127.0.0.1:9000",
            "nats://127.0.0.1:4222",
            "not a url",
        ] {
            assert_eq!(url(plain), plain);
        }
    }

    #[test]
    fn a_nats_token_in_the_user_position_is_masked() {
        assert_eq!(url("nats://s3cr3t-token@nats:4222"), "nats://***@nats:4222");
        assert_eq!(url("tls://s3cr3t@nats:4222"), "tls://***@nats:4222");
    }

    #[test]
    fn credential_query_parameters_are_masked() {
        assert_eq!(
            url("postgres://db/x?sslmode=require&password=hunter2"),
            "postgres://db/x?sslmode=require&password=***"
        );
        assert_eq!(
            url("http://s3/b/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=abc&X-Amz-Expires=60#f"),
            "http://s3/b/k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60#f"
        );
        assert_eq!(url("http://api/v1?api_key=k1&access_token=t1"), "http://api/v1?api_key=***&access_token=***");
    }

    #[test]
    fn every_server_of_a_nats_list_is_redacted() {
        assert_eq!(url("nats://a:p1@h1:4222,nats://b:p2@h2:4222"), "nats://a:***@h1:4222,nats://b:***@h2:4222");
        assert_eq!(url("nats://a:p,1@h1:4222"), "nats://a:***@h1:4222");
    }

    #[test]
    fn urls_inside_a_message_are_redacted() {
        assert_eq!(
            text("error sending request for url (https://u:pw@api.example/v1/jobs?token=t): connection refused"),
            "error sending request for url (https://u:***@api.example/v1/jobs?token=***): connection refused"
        );
        assert_eq!(text("no url here: a://"), "no url here: a://");
        assert_eq!(text("two: nats://t@h and postgres://u:p@d/x"), "two: nats://***@h and postgres://u:***@d/x");
    }
}
