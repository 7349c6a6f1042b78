//! Chroma's own rules for the names of collections, databases and tenants, checked before any
//! request (as Chroma's server checks them: `validate_name` in its `rust/types` crate, and the
//! tenant's `length(min = 3)`), so that a name Chroma cannot have is refused here with the flag
//! that gave it. Every name is still percent-encoded as one URL path segment when it is sent.

/// Chroma's rule for a collection or database name, as its `validate_name` states it: 3–512
/// characters from `[a-zA-Z0-9._-]`, starting and ending with a letter or digit, no `..`, not an
/// IP address; or `TOPOLOGY+NAME`, each part such a name and the whole at most 512 characters.
pub fn check_name(name: &str) -> Result<(), String> {
    if let Some((topology, rest)) = name.split_once('+') {
        if name.len() > 512 {
            return Err(format!("{} characters; Chroma allows at most 512", name.chars().count()));
        }
        if rest.contains('+') {
            return Err("more than one `+`; Chroma allows one (TOPOLOGY+NAME)".into());
        }
        check_name(topology)?;
        return check_name(rest);
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !(3..=512).contains(&name.chars().count())
        || !name.chars().all(allowed)
        || !alnum(name.chars().next())
        || !alnum(name.chars().last())
    {
        return Err("Chroma's names have 3-512 characters from [a-zA-Z0-9._-] and start and end with a \
                    letter or digit"
            .into());
    }
    if name.contains("..") {
        return Err("Chroma's names contain no `..`".into());
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err("Chroma's names are not IP addresses".into());
    }
    Ok(())
}

/// Chroma's rule for a tenant: at least 3 characters (any others are encoded in the URL). A
/// control character is refused too: the URL standard drops a tab or newline from a path, so such
/// a tenant could not be named in a request.
pub fn check_tenant(name: &str) -> Result<(), String> {
    if name.chars().count() < 3 {
        return Err("Chroma's tenants have at least 3 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("a control character cannot be sent in a URL path".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check_name, check_tenant};

    #[test]
    fn names_follow_chromas_rules() {
        let long = "a".repeat(512);
        for ok in ["conversation_segments", "default_database", "abc", "a.b-c_d", "A1z", long.as_str(), "topo+db-1"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        let too_long = "a".repeat(513);
        for bad in [
            "",
            "ab",
            too_long.as_str(),
            "a/b",
            "a?b",
            "a#b",
            "a..b",
            "..",
            "_ab",
            "ab-",
            "a b",
            "café",
            "10.0.0.1",
            "a+b+c",
            "+abc",
            "abc+",
            "a%2Fb",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn tenants_need_three_characters_and_no_control_character() {
        for ok in ["default_tenant", "abc", "a/b?c#d..", "1e30d217-3d78-4f8c-b244-79381dc6a254"] {
            assert_eq!(check_tenant(ok), Ok(()), "{ok}");
        }
        for bad in ["", "ab", "..", "a\tbc", "abc\n"] {
            assert!(check_tenant(bad).is_err(), "{bad:?} passed");
        }
    }
}
