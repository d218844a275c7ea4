//! WeChat's answers: `wxauth::wechat::parse_body` on any bytes. Never panics; a success is a JSON object
//! whose `errcode` is absent or zero; a failure never echoes more than 200 characters of `errmsg`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wxauth::error::WechatError;

fuzz_target!(|data: &[u8]| {
    match wxauth::wechat::parse_body(data) {
        Ok(v) => {
            assert!(v.is_object());
            if let Some(code) = v.get("errcode") {
                let zero = match code {
                    // Read leniently, as the parser does: a float is truncated, text that is no
                    // number and other types are no errcode at all.
                    serde_json::Value::Number(n) => {
                        n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)) == Some(0)
                    }
                    serde_json::Value::String(s) => {
                        !matches!(s.trim().parse::<i64>(), Ok(c) if c != 0)
                    }
                    _ => true,
                };
                assert!(zero, "success with errcode {code}");
            }
        }
        Err(WechatError::Other { errmsg, .. }) => assert!(errmsg.chars().count() <= 200),
        Err(_) => {}
    }
});
