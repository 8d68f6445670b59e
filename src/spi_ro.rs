//! Read-only SPI look-ups. pgrx's `Spi::get_one*` run their query through `SpiClient::update`,
//! which first asks for the transaction's id (`GetCurrentTransactionId`, assigning one): on a hot
//! standby that fails ("cannot assign TransactionIds during recovery"), so check() there called
//! every statement whose analysis looks something up "unanalysed", and on a primary a read-only
//! check() used up a transaction id. The analysis only reads: these run the query read-only
//! (`SpiClient::select`), without a transaction id.

use pgrx::datum::{DatumWithOid, FromDatum, IntoDatum};
use pgrx::spi::{Spi, SpiResult};

/// The first column of the first row (None: no row or NULL), read-only.
pub fn get_one_with_args<A: FromDatum + IntoDatum>(
    query: &str,
    args: &[DatumWithOid<'_>],
) -> SpiResult<Option<A>> {
    Spi::connect(|client| client.select(query, Some(1), args)?.first().get_one::<A>())
}
