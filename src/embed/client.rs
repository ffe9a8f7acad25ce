//! A blocking client of an OpenAI-compatible embeddings endpoint, strict about its answers:
//! one finite vector per input, all of one dimension, in a body of bounded size.

use std::time::Duration;

use serde_json::{Value, json};

use crate::embed::{EmbedError, EmbedderConfig, QueryStyle};

/// The largest answer read: 64 MiB (a batch of 4096 vectors of 1024 floats as JSON).
pub const MAX_BODY: u64 = 64 << 20;

/// What a text is to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A search query.
    Query,
    /// A passage of the corpus.
    Passage,
}

/// A client of one endpoint, with its timeout; `Send + Sync`.
pub struct Client {
    config: EmbedderConfig,
    agent: ureq::Agent,
    key: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Client")
            .field("url", &self.config.url)
            .finish()
    }
}

impl Client {
    /// A client of `config`'s endpoint whose requests give up after `timeout` (connecting
    /// included). The API key is read from the environment variable the config names.
    pub fn new(config: &EmbedderConfig, timeout: Duration) -> Result<Client, EmbedError> {
        config.check()?;
        crate::embed::notice_remote(config);
        let key = match &config.key_env {
            Some(var) => Some(std::env::var(var).map_err(|_| {
                EmbedError::Config(format!(
                    "the environment variable {var} (the API key) is not set"
                ))
            })?),
            None => None,
        };
        let connect = timeout.min(Duration::from_secs(5));
        let settings = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .timeout_connect(Some(connect))
            .http_status_as_error(false)
            .build();
        let agent = if config.is_loopback() {
            let resolver = ureq::unversioned::resolver::DefaultResolver::default();
            ureq::Agent::with_parts(settings, super::quickack::connector(connect), resolver)
        } else {
            settings.into()
        };
        Ok(Client {
            config: config.clone(),
            agent,
            key,
        })
    }

    /// The endpoint's settings.
    pub fn config(&self) -> &EmbedderConfig {
        &self.config
    }

    /// The model the endpoint lists first (`GET URL/models`).
    pub fn first_model(&self) -> Result<String, EmbedError> {
        let url = format!("{}/models", self.config.url);
        let mut req = self.agent.get(&url);
        if let Some(key) = &self.key {
            req = req.header("Authorization", &format!("Bearer {key}"));
        }
        let (status, body) = read(&url, req.call())?;
        let malformed = |why: &str| EmbedError::Malformed {
            url: url.clone(),
            status,
            why: why.to_string(),
        };
        let v: Value = serde_json::from_slice(&body).map_err(|_| malformed("not JSON"))?;
        v["data"][0]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| malformed("no model listed (give one with --embed-model)"))
    }

    /// One vector per text, in order, each of `dim` numbers when `dim` is given (the
    /// dimension the index already holds).
    pub fn embed(
        &self,
        texts: &[String],
        kind: Kind,
        dim: Option<usize>,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let url = format!("{}/embeddings", self.config.url);
        let body = self.request_body(texts, kind);
        let mut req = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json");
        if let Some(key) = &self.key {
            req = req.header("Authorization", &format!("Bearer {key}"));
        }
        let (status, answer) = read(&url, req.send(body.to_string()))?;
        parse_answer(&answer, texts.len(), dim).map_err(|why| EmbedError::Malformed {
            url,
            status,
            why,
        })
    }

    fn request_body(&self, texts: &[String], kind: Kind) -> Value {
        let model = self.config.model.clone().unwrap_or_default();
        match (&self.config.query, kind) {
            (QueryStyle::InputType, _) => {
                let input_type = if kind == Kind::Query {
                    "query"
                } else {
                    "passage"
                };
                json!({"model": model, "input": texts, "input_type": input_type})
            }
            (QueryStyle::Prefix, _) => {
                let prefix = if kind == Kind::Query {
                    "query: "
                } else {
                    "passage: "
                };
                let input: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
                json!({"model": model, "input": input})
            }
            (QueryStyle::Models { query_model }, Kind::Query) => {
                json!({"model": query_model, "input": texts})
            }
            (QueryStyle::Models { .. }, Kind::Passage) => json!({"model": model, "input": texts}),
        }
    }
}

/// The status and body of an answer (at most [`MAX_BODY`] bytes); an error status or a
/// failed connection is an error naming the URL.
fn read(
    url: &str,
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<(u16, Vec<u8>), EmbedError> {
    let unreachable = |e: ureq::Error| EmbedError::Unreachable {
        url: url.to_string(),
        why: e.to_string(),
    };
    let mut response = sent.map_err(unreachable)?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec();
    let body = match body {
        Ok(b) => b,
        Err(ureq::Error::BodyExceedsLimit(_)) => {
            return Err(EmbedError::Malformed {
                url: url.to_string(),
                status,
                why: format!("the answer is over {} MiB", MAX_BODY >> 20),
            });
        }
        Err(e) => return Err(unreachable(e)),
    };
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(&body);
        let why: String = text.chars().take(200).collect();
        return Err(EmbedError::Status {
            url: url.to_string(),
            status,
            why: why.trim().to_string(),
        });
    }
    Ok((status, body))
}

/// The vectors of an embeddings answer, checked: `n` of them (ordered by their `index`), all
/// of one dimension (`dim` when given), every number finite, none all zero.
pub fn parse_answer(body: &[u8], n: usize, dim: Option<usize>) -> Result<Vec<Vec<f32>>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "not JSON".to_string())?;
    let data = v["data"]
        .as_array()
        .ok_or_else(|| "no `data` array".to_string())?;
    if data.len() != n {
        return Err(format!("{} vectors for {n} texts", data.len()));
    }
    let mut out: Vec<Option<Vec<f32>>> = vec![None; n];
    for (i, item) in data.iter().enumerate() {
        let at = item["index"].as_u64().map_or(i, |x| x as usize);
        let numbers = item["embedding"]
            .as_array()
            .ok_or_else(|| format!("vector {at} is not an array of numbers"))?;
        let vector: Vec<f32> = numbers
            .iter()
            .map(|x| x.as_f64().map(|f| f as f32).filter(|f| f.is_finite()))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("vector {at} holds a value that is not a finite number"))?;
        let want = dim.unwrap_or(out.iter().flatten().next().map_or(vector.len(), Vec::len));
        if vector.len() != want || vector.is_empty() {
            return Err(format!(
                "vector {at} has dimension {}, not {want}",
                vector.len()
            ));
        }
        if vector.iter().all(|&x| x == 0.0) {
            return Err(format!("vector {at} is all zeros"));
        }
        match out.get_mut(at) {
            Some(slot @ None) => *slot = Some(vector),
            _ => return Err(format!("index {at} is out of range or repeated")),
        }
    }
    Ok(out.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(vectors: &str) -> Vec<u8> {
        format!("{{\"data\":[{vectors}]}}").into_bytes()
    }

    #[test]
    fn answers_are_checked_strictly() {
        let one = |v: &str| format!("{{\"index\":0,\"embedding\":{v}}}");
        assert_eq!(
            parse_answer(&answer(&one("[1,0.5]")), 1, Some(2)).unwrap(),
            [vec![1.0, 0.5]]
        );
        let two = answer(r#"{"index":1,"embedding":[1,2]},{"index":0,"embedding":[3,4]}"#);
        assert_eq!(parse_answer(&two, 2, None).unwrap()[0], [3.0, 4.0]);
        for (body, n, dim, why) in [
            (answer(&one("[1,2]")), 2, None, "1 vectors for 2"),
            (answer(&one("[1,2]")), 1, Some(3), "dimension 2, not 3"),
            (answer(&one("[1,\"NaN\"]")), 1, None, "finite"),
            (answer(&one("[0,0]")), 1, None, "zeros"),
            (b"<html>".to_vec(), 1, None, "not JSON"),
            (
                answer(r#"{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}"#),
                2,
                None,
                "repeated",
            ),
            (
                answer(r#"{"index":0,"embedding":[1]},{"index":1,"embedding":[2,3]}"#),
                2,
                None,
                "dimension",
            ),
        ] {
            let e = parse_answer(&body, n, dim).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }
}
