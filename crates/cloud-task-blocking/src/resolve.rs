//! The resolver of the default transport: IP addresses answered at once, host names kept
//! for a short while.
//!
//! ureq resolves the host of every request, before it looks for a pooled connection, and
//! with a timeout set it does so on a new thread each time: half again the CPU of a call.
//! Here an IP address needs no lookup, and a host name is looked up (by ureq's own
//! resolver, with its timeout) at most once every [`TTL`]; the answer only matters when a
//! new connection is opened.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ureq::config::Config as UreqConfig;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a host name's addresses are kept.
pub(crate) const TTL: Duration = Duration::from_secs(30);
/// The most host names kept (all are dropped when it is reached).
const MAX_HOSTS: usize = 64;

#[derive(Default)]
pub(crate) struct CachingResolver {
    inner: DefaultResolver,
    cache: Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>,
}

impl fmt::Debug for CachingResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CachingResolver")
    }
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &UreqConfig,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let Some(authority) = uri.authority() else {
            return self.inner.resolve(uri, config, timeout);
        };
        let port = authority.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        let host = authority.host();
        if let (Some(port), Ok(ip)) = (port, host.trim_matches(['[', ']']).parse::<IpAddr>()) {
            let mut addrs = self.empty();
            addrs.truncate(0);
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        let key = format!("{host}:{}", port.unwrap_or(0));
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, addrs)) = cache.get(&key)
                && now.duration_since(*at) < TTL
            {
                return Ok(addrs.clone());
            }
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_HOSTS {
            cache.clear();
        }
        cache.insert(key, (now, addrs.clone()));
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_addresses_need_no_lookup() {
        let resolver = CachingResolver::default();
        let config = UreqConfig::default();
        for (uri, expected) in [
            ("http://127.0.0.1:8080/x", "127.0.0.1:8080"),
            ("https://[::1]/x", "[::1]:443"),
            ("http://10.0.0.1/", "10.0.0.1:80"),
        ] {
            let uri: Uri = uri.parse().unwrap();
            let addrs = resolver
                .resolve(&uri, &config, NextTimeout::default())
                .unwrap();
            assert_eq!(addrs.len(), 1);
            assert_eq!(addrs[0].to_string(), expected);
        }
        assert!(resolver.cache.lock().unwrap().is_empty());
    }

    #[test]
    fn host_names_are_kept() {
        let resolver = CachingResolver::default();
        let uri: Uri = "http://localhost:9/".parse().unwrap();
        let first = resolver
            .resolve(&uri, &UreqConfig::default(), NextTimeout::default())
            .unwrap();
        assert!(!first.is_empty());
        assert_eq!(resolver.cache.lock().unwrap().len(), 1);
        let again = resolver
            .resolve(&uri, &UreqConfig::default(), NextTimeout::default())
            .unwrap();
        assert_eq!(first.len(), again.len());
    }
}
