//! What a table is (its name and typed columns) and the row interface generators write
//! through. Both `gen` (which produces values) and `encode` (which turns them into bytes) build
//! on this module, so neither needs to import the other's internals.

/// A table: its name and columns, in output order.
pub struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [Column],
}

/// SQL type of a column: shapes the DDL and the binary COPY encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColType {
    BigInt,
    Int,
    Text,
    /// numeric(precision, scale)
    Numeric(u8, u8),
    Date,
    Timestamptz,
    Bool,
    /// char(n)
    Char(u8),
}

#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColType,
    pub nullable: bool,
}

pub const fn col(name: &'static str, ty: ColType) -> Column {
    Column {
        name,
        ty,
        nullable: false,
    }
}

pub const fn null_col(name: &'static str, ty: ColType) -> Column {
    Column {
        name,
        ty,
        nullable: true,
    }
}

/// `cols` followed by `last` (`M` must be `N + 1`): a table's columns with one more, so a
/// variant of a table (the partitioned layout's) is written once.
pub const fn append<const N: usize, const M: usize>(
    cols: [Column; N],
    last: Column,
) -> [Column; M] {
    assert!(M == N + 1, "append: M must be N + 1");
    let mut out = [last; M];
    let mut i = 0;
    while i < N {
        out[i] = cols[i];
        i += 1;
    }
    out
}

/// One output format. Values are written in column order between `begin` and `end`.
pub trait Encoder: Send {
    /// An encoder writing into `buf` (cleared first): callers pass a recycled buffer so that a
    /// chunk reuses memory that is already allocated and faulted in.
    fn new(table: &'static TableSpec, buf: Vec<u8>) -> Self
    where
        Self: Sized;
    fn begin(&mut self);
    fn int(&mut self, v: i64);
    fn text(&mut self, s: &str);
    /// A text that lives for the whole run (vocabulary, a pooled text): the same as [`text`],
    /// but an encoder may remember it by address, since such a text never changes.
    ///
    /// [`text`]: Encoder::text
    #[inline]
    fn text_static(&mut self, s: &'static str) {
        self.text(s)
    }
    fn null(&mut self);
    /// A decimal with `scale` places given as an integer (cents for scale 2).
    fn decimal(&mut self, units: i64, scale: u32);
    /// Days since 1970-01-01.
    fn date(&mut self, days: i32);
    /// Seconds since 1970-01-01 UTC.
    fn timestamp(&mut self, secs: i64);
    fn boolean(&mut self, b: bool);
    fn end(&mut self);
    /// The chunk's bytes (with any trailer the format needs); the encoder is done after this.
    fn take(&mut self) -> Vec<u8>;

    #[inline]
    fn opt_int(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }
    #[inline]
    fn opt_text(&mut self, v: Option<&str>) {
        match v {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }
    #[inline]
    fn opt_decimal(&mut self, v: Option<i64>, scale: u32) {
        match v {
            Some(v) => self.decimal(v, scale),
            None => self.null(),
        }
    }
    #[inline]
    fn opt_timestamp(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.timestamp(v),
            None => self.null(),
        }
    }
    #[inline]
    fn money(&mut self, cents: i64) {
        self.decimal(cents, 2)
    }
}

/// How finseed's tables are laid out in PostgreSQL (`--layout`, or the profile's `layout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// One table each (`schemas/tables.sql`).
    #[default]
    Plain,
    /// `transactions` and `transaction_splits` range-partitioned by month of the transaction's
    /// date (`schemas/partitioned.sql`); splits and insights carry that date for their keys.
    Partitioned,
}

impl Layout {
    pub const NAMES: [&'static str; 2] = ["plain", "partitioned"];

    pub fn name(self) -> &'static str {
        match self {
            Layout::Plain => "plain",
            Layout::Partitioned => "partitioned",
        }
    }

    pub fn parse(s: &str) -> Option<Layout> {
        match s {
            "plain" => Some(Layout::Plain),
            "partitioned" => Some(Layout::Partitioned),
            _ => None,
        }
    }
}
