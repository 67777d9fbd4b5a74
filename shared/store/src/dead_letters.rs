//! Dead letters kept for the operator: the messages taken off the broker's dead-letter queue,
//! each under an id of its body and signature (so keeping the same message twice keeps it once), until the
//! operator replays or discards it. Three keys of one slot (`{dead}`), written together.

use crate::{Result, Store};
use redis::AsyncCommands;
use sha2::{Digest, Sha256};

/// A message kept from the dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptLetter {
    /// 24 hex digits of the SHA-256 of its signature and body.
    pub id: String,
    pub body: Vec<u8>,
    /// Its signature header, if it had one.
    pub signature: Option<String>,
    /// When it was taken off the queue (ms).
    pub kept_ms: i64,
}

/// The id a message is kept under: of its body and its signature (a copy of a message with
/// another signature is another message).
pub fn letter_id(body: &[u8], signature: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(signature.unwrap_or("").as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(&h.finalize()[..12])
}

impl Store {
    /// Keeps a message taken off the dead-letter queue (again: a no-op); its id.
    pub async fn keep_letter(
        &self,
        body: &[u8],
        signature: Option<&str>,
        now: i64,
    ) -> Result<String> {
        let id = letter_id(body, signature);
        let k = &self.keys;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_nx(k.dead_bodies(), &id, body)
            .ignore()
            .zadd_options(
                k.dead_order(),
                &id,
                now,
                &redis::SortedSetAddOptions::add_only(),
            )
            .ignore();
        if let Some(sig) = signature {
            pipe.hset_nx(k.dead_signatures(), &id, sig).ignore();
        }
        let () = pipe.query_async(&mut self.c()).await?;
        Ok(id)
    }

    /// How many messages are kept.
    pub async fn letters_kept(&self) -> Result<u64> {
        Ok(self.c().zcard(self.keys.dead_order()).await?)
    }

    /// Up to `limit` kept messages from the `offset`-th (oldest first).
    pub async fn kept_letters(&self, offset: usize, limit: usize) -> Result<Vec<KeptLetter>> {
        if limit == 0 {
            return Ok(vec![]);
        }
        let ids: Vec<(String, i64)> = self
            .c()
            .zrange_withscores(
                self.keys.dead_order(),
                offset as isize,
                (offset + limit - 1) as isize,
            )
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for (id, kept_ms) in ids {
            if let Some(mut letter) = self.kept_letter(&id).await? {
                letter.kept_ms = kept_ms;
                out.push(letter);
            }
        }
        Ok(out)
    }

    /// The kept message `id`, if there is one.
    pub async fn kept_letter(&self, id: &str) -> Result<Option<KeptLetter>> {
        let k = &self.keys;
        let (body, signature, kept_ms): (Option<Vec<u8>>, Option<String>, Option<f64>) =
            redis::pipe()
                .hget(k.dead_bodies(), id)
                .hget(k.dead_signatures(), id)
                .zscore(k.dead_order(), id)
                .query_async(&mut self.c())
                .await?;
        Ok(body.map(|body| KeptLetter {
            id: id.to_string(),
            body,
            signature,
            kept_ms: kept_ms.unwrap_or(0.0) as i64,
        }))
    }

    /// Forgets the kept message `id`: false when there was none.
    pub async fn forget_letter(&self, id: &str) -> Result<bool> {
        let k = &self.keys;
        let (n, _, _): (u64, u64, u64) = redis::pipe()
            .atomic()
            .zrem(k.dead_order(), id)
            .hdel(k.dead_bodies(), id)
            .hdel(k.dead_signatures(), id)
            .query_async(&mut self.c())
            .await?;
        Ok(n == 1)
    }
}
