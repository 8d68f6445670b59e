//! What ATTACH PARTITION builds and validates on the partition besides the bound scans
//! (tablecmds.c: AttachPartitionEnsureIndexes, CloneFkReferencing / tryAttachPartitionForeignKey),
//! from the catalog. A match is judged as Postgres judges it, conservatively: when in doubt, no
//! match (the statement is then refused, never let through on a guess).

use pgrx::{pg_sys, Spi};

use crate::ddl::{MissingForeignKey, MissingIndex};

/// The column names of an int2vector of attribute numbers of `rel` in order (NULL for an
/// expression column), as SQL.
fn names(keys: &str, rel: &str) -> String {
    format!(
        "ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.unnest({keys}::pg_catalog.int2[]) WITH ORDINALITY AS k(n, o) \
         LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) {rel} AND a.attnum OPERATOR(pg_catalog.=) k.n \
         ORDER BY k.o)"
    )
}

/// The parent's indexes the partition has no match for, and its validated foreign keys the
/// partition has no validated match for. Nothing on error (the bound scan rules still apply).
pub fn missing(parent: u32, partition: u32) -> (Vec<MissingIndex>, Vec<MissingForeignKey>) {
    let args = [
        pg_sys::Oid::from(parent).into(),
        pg_sys::Oid::from(partition).into(),
    ];
    let index_sql = format!(
        "SELECT pi.indexrelid::pg_catalog.regclass::pg_catalog.text, \
                pg_catalog.pg_get_indexdef(pi.indexrelid), pi.indisunique, con.contype::pg_catalog.text \
         FROM pg_catalog.pg_index pi \
         JOIN pg_catalog.pg_class pc ON pc.oid OPERATOR(pg_catalog.=) pi.indexrelid \
         LEFT JOIN pg_catalog.pg_constraint con ON con.conindid OPERATOR(pg_catalog.=) pi.indexrelid \
           AND con.conrelid OPERATOR(pg_catalog.=) pi.indrelid \
           AND con.contype OPERATOR(pg_catalog.=) ANY ('{{p,u,x}}'::pg_catalog.\"char\"[]) \
         WHERE pi.indrelid OPERATOR(pg_catalog.=) $1 \
           AND NOT EXISTS ( \
             SELECT FROM pg_catalog.pg_index ci \
             JOIN pg_catalog.pg_class cc ON cc.oid OPERATOR(pg_catalog.=) ci.indexrelid \
             WHERE ci.indrelid OPERATOR(pg_catalog.=) $2 AND ci.indisvalid \
               AND cc.relam OPERATOR(pg_catalog.=) pc.relam \
               AND ci.indisunique OPERATOR(pg_catalog.=) pi.indisunique \
               AND ci.indnkeyatts OPERATOR(pg_catalog.=) pi.indnkeyatts \
               AND ci.indnatts OPERATOR(pg_catalog.=) pi.indnatts \
               AND ci.indclass::pg_catalog.oid[] OPERATOR(pg_catalog.=) pi.indclass::pg_catalog.oid[] \
               AND ci.indcollation::pg_catalog.oid[] OPERATOR(pg_catalog.=) pi.indcollation::pg_catalog.oid[] \
               AND ci.indoption::pg_catalog.int2[] OPERATOR(pg_catalog.=) pi.indoption::pg_catalog.int2[] \
               AND {child_keys} OPERATOR(pg_catalog.=) {parent_keys} \
               AND COALESCE(pg_catalog.pg_get_expr(ci.indexprs, ci.indrelid), '') \
                   OPERATOR(pg_catalog.=) COALESCE(pg_catalog.pg_get_expr(pi.indexprs, pi.indrelid), '') \
               AND COALESCE(pg_catalog.pg_get_expr(ci.indpred, ci.indrelid), '') \
                   OPERATOR(pg_catalog.=) COALESCE(pg_catalog.pg_get_expr(pi.indpred, pi.indrelid), '') \
               AND (con.oid IS NULL OR EXISTS (SELECT FROM pg_catalog.pg_constraint cc2 \
                    WHERE cc2.conindid OPERATOR(pg_catalog.=) ci.indexrelid \
                      AND cc2.conrelid OPERATOR(pg_catalog.=) ci.indrelid))) \
         ORDER BY pi.indexrelid",
        child_keys = names("ci.indkey", "ci.indrelid"),
        parent_keys = names("pi.indkey", "pi.indrelid"),
    );
    let fk_sql = format!(
        "SELECT pg_catalog.quote_ident(p.conname::pg_catalog.text), pg_catalog.pg_get_constraintdef(p.oid), \
                ARRAY(SELECT pg_catalog.quote_ident(n) FROM pg_catalog.unnest({parent_cols}) AS n) \
         FROM pg_catalog.pg_constraint p \
         WHERE p.conrelid OPERATOR(pg_catalog.=) $1 AND p.contype OPERATOR(pg_catalog.=) 'f' AND p.convalidated \
           AND NOT EXISTS ( \
             SELECT FROM pg_catalog.pg_constraint c \
             WHERE c.conrelid OPERATOR(pg_catalog.=) $2 AND c.contype OPERATOR(pg_catalog.=) 'f' AND c.convalidated \
               AND c.conparentid OPERATOR(pg_catalog.=) 0::pg_catalog.oid \
               AND c.confrelid OPERATOR(pg_catalog.=) p.confrelid \
               AND c.confkey OPERATOR(pg_catalog.=) p.confkey \
               AND c.conpfeqop OPERATOR(pg_catalog.=) p.conpfeqop \
               AND c.confupdtype OPERATOR(pg_catalog.=) p.confupdtype \
               AND c.confdeltype OPERATOR(pg_catalog.=) p.confdeltype \
               AND c.confmatchtype OPERATOR(pg_catalog.=) p.confmatchtype \
               AND c.condeferrable OPERATOR(pg_catalog.=) p.condeferrable \
               AND c.condeferred OPERATOR(pg_catalog.=) p.condeferred \
               AND {child_cols} OPERATOR(pg_catalog.=) {parent_cols}) \
         ORDER BY p.oid",
        parent_cols = names("p.conkey", "p.conrelid"),
        child_cols = names("c.conkey", "c.conrelid"),
    );
    let result = Spi::connect(|client| {
        let mut indexes = Vec::new();
        for row in client.select(&index_sql, None, &args)? {
            let (Some(parent_index), Some(def), Some(unique)) = (
                row.get::<String>(1)?,
                row.get::<String>(2)?,
                row.get::<bool>(3)?,
            ) else {
                continue;
            };
            let Some(at) = def.find(" USING ") else {
                continue;
            };
            indexes.push(MissingIndex {
                parent_index,
                using: def[at + 1..].to_string(),
                unique,
                constraint: row
                    .get::<String>(4)?
                    .and_then(|c| c.chars().next())
                    .filter(|c| matches!(c, 'p' | 'u')),
            });
        }
        let mut foreign_keys = Vec::new();
        for row in client.select(&fk_sql, None, &args)? {
            if let (Some(name), Some(definition), Some(columns)) = (
                row.get::<String>(1)?,
                row.get::<String>(2)?,
                row.get::<Vec<String>>(3)?,
            ) {
                foreign_keys.push(MissingForeignKey {
                    name,
                    definition,
                    columns,
                });
            }
        }
        Ok::<_, pgrx::spi::Error>((indexes, foreign_keys))
    });
    result.unwrap_or_default()
}
