//! Binary COPY rows sorted by month, for the partitioned layout's frozen load: each row goes to
//! the month of its first date value (`transaction_date` of a transaction, the split's
//! transaction's date), so a chunk arrives as one run of rows per partition.

use super::binary::Binary;
use super::Encoder;
use crate::table::TableSpec;

/// The months of a window: day → slot (0-based month of the window).
#[derive(Clone, Debug)]
pub struct Window {
    first_day: i32,
    slot_of_day: Vec<u16>,
    pub months: usize,
}

impl Window {
    /// `months` whole months starting at the month of `first_day` (the first of a month).
    pub fn new(first_day: i32, months: usize) -> Window {
        let first = crate::civil::month_index(first_day);
        let end = crate::civil::month_start(first + months as i32);
        let slot_of_day = (first_day..end)
            .map(|d| (crate::civil::month_index(d) - first) as u16)
            .collect();
        Window {
            first_day,
            slot_of_day,
            months,
        }
    }

    /// The slot of a day, or None outside the window.
    #[inline]
    pub fn slot(&self, day: i32) -> Option<usize> {
        self.slot_of_day
            .get(usize::try_from(day - self.first_day).ok()?)
            .map(|&s| s as usize)
    }
}

/// Encodes rows with [`Binary`], then moves each finished row to its month's run. The runs hold
/// tuples only: whoever sends them adds the COPY header and trailer.
pub struct Monthly {
    row: Binary,
    window: std::sync::Arc<Window>,
    /// Tuples per month slot, and their row counts.
    pub runs: Vec<(Vec<u8>, u64)>,
    start: usize,
    slot: Option<usize>,
    /// Rows whose date fell outside the window (a bug in the generator if ever non-zero).
    pub outside: u64,
}

impl Monthly {
    pub fn with_window(table: &'static TableSpec, window: std::sync::Arc<Window>) -> Monthly {
        let runs = vec![(Vec::new(), 0); window.months];
        Monthly {
            row: Binary::new(table, Vec::with_capacity(4096)),
            window,
            runs,
            start: 0,
            slot: None,
            outside: 0,
        }
    }
}

impl Encoder for Monthly {
    fn new(_: &'static TableSpec, _: Vec<u8>) -> Self {
        unreachable!("a Monthly encoder needs its window: Monthly::with_window")
    }
    #[inline]
    fn begin(&mut self) {
        self.start = self.row.bytes_mut().len();
        self.slot = None;
        self.row.begin();
    }
    #[inline]
    fn int(&mut self, v: i64) {
        self.row.int(v)
    }
    #[inline]
    fn text(&mut self, s: &str) {
        self.row.text(s)
    }
    #[inline]
    fn null(&mut self) {
        self.row.null()
    }
    #[inline]
    fn decimal(&mut self, units: i64, scale: u32) {
        self.row.decimal(units, scale)
    }
    #[inline]
    fn date(&mut self, days: i32) {
        if self.slot.is_none() {
            self.slot = Some(self.window.slot(days).unwrap_or(usize::MAX));
        }
        self.row.date(days)
    }
    #[inline]
    fn timestamp(&mut self, secs: i64) {
        self.row.timestamp(secs)
    }
    #[inline]
    fn boolean(&mut self, b: bool) {
        self.row.boolean(b)
    }
    #[inline]
    fn end(&mut self) {
        self.row.end();
        let start = self.start;
        let buf = self.row.bytes_mut();
        match self.slot.and_then(|s| self.runs.get_mut(s)) {
            Some((run, n)) => {
                run.extend_from_slice(&buf[start..]);
                *n += 1;
            }
            None => self.outside += 1,
        }
        buf.truncate(start);
    }
    fn take(&mut self) -> Vec<u8> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::civil::days_from_civil;

    #[test]
    fn days_fall_in_their_month() {
        let w = Window::new(days_from_civil(2024, 11, 1), 3);
        assert_eq!(w.slot(days_from_civil(2024, 10, 31)), None);
        assert_eq!(w.slot(days_from_civil(2024, 11, 1)), Some(0));
        assert_eq!(w.slot(days_from_civil(2024, 11, 30)), Some(0));
        assert_eq!(w.slot(days_from_civil(2024, 12, 1)), Some(1));
        assert_eq!(w.slot(days_from_civil(2025, 1, 31)), Some(2));
        assert_eq!(w.slot(days_from_civil(2025, 2, 1)), None);
    }
}
