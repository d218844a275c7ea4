//! The authorizer's event parsing and decision: `Authorizer::handle` on any JSON, over a memory store
//! that holds one live session. Never panics; allows only the one live skey, and only when the event
//! carries it; a REST denial is the exact error `Unauthorized`.

#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wxauth::clock::SystemClock;
use wxauth::secret::Secret;
use wxauth::handlers::authorizer::Authorizer;
use wxauth::sessions::Sessions;
use wxauth::store::memory::MemoryStore;

struct World {
    rt: tokio::runtime::Runtime,
    authorizer: Authorizer,
    skey: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let sessions = Sessions::new(
            Arc::new(MemoryStore::new()),
            Arc::new(SystemClock),
            604_800,
            172_800,
        );
        let new = rt
            .block_on(sessions.create("o-fuzz", None, &Secret::new("tiihtNczf5v6AKRyjwEUhQ==")))
            .expect("session");
        World {
            rt,
            authorizer: Authorizer::new(sessions),
            skey: new.skey.expose().to_string(),
        }
    })
}

/// A fixed, known skey written in the seed corpus is swapped for the live one, so that the fuzzer can
/// reach the allow path.
const PLACEHOLDER: &str = "SKEYSKEYSKEYSKEYSKEYSKEYSKEYSKEYSKEYSKEYSKE";

fuzz_target!(|data: &[u8]| {
    let w = world();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let text = text.replace(PLACEHOLDER, &w.skey);
    let Ok(event) = serde_json::from_str::<Value>(&text) else {
        return;
    };
    let rest = event.get("type").and_then(Value::as_str).is_some_and(|t| {
        t.eq_ignore_ascii_case("TOKEN")
            || (t.eq_ignore_ascii_case("REQUEST") && event.get("version").is_none())
    });
    match w.rt.block_on(w.authorizer.handle(event)) {
        Ok(answer) => {
            let allowed = answer.get("isAuthorized") == Some(&Value::Bool(true))
                || answer.to_string().contains("\"Effect\":\"Allow\"");
            if allowed {
                assert!(
                    text.contains(&w.skey),
                    "allowed without the live skey: {text}"
                );
                assert_eq!(
                    answer.pointer("/context/openid").and_then(Value::as_str),
                    Some("o-fuzz")
                );
            }
        }
        Err(e) => {
            if rest && e == wxauth::handlers::authorizer::AuthorizerError::Unauthorized {
                assert_eq!(e.to_string(), "Unauthorized");
            }
        }
    }
});
