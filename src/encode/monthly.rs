//! Binary COPY rows sorted by month, for the partitioned layout's frozen load: each row goes to
//! the month of its first date value (`transaction_date` of a transaction, the split's
//! transaction's date), so a chunk arrives as one run of rows per partition.

use super::binary::{Binary, HEADER};
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

/// Encodes rows with [`Binary`] and sorts them into one run per month. A row starts in a scratch
/// buffer; at its first date, the part written so far moves to the end of its month's run and
/// the rest is written there directly (the run is swapped in as the encoder's buffer), so most
/// of each row is written once. Each run starts with the COPY header; whoever sends it adds the
/// trailer.
pub struct Monthly {
    row: Binary,
    window: std::sync::Arc<Window>,
    /// Tuples per month slot (after the COPY header), and their row counts.
    pub runs: Vec<(Vec<u8>, u64)>,
    /// The scratch buffer while a run is swapped into `row`.
    scratch: Vec<u8>,
    start: usize,
    slot: Option<usize>,
    /// Rows whose date fell outside the window (a bug in the generator if ever non-zero).
    pub outside: u64,
}

impl Monthly {
    /// `capacity`: bytes to reserve per month (a guess that saves regrowing the runs).
    pub fn with_window(
        table: &'static TableSpec,
        window: std::sync::Arc<Window>,
        capacity: usize,
    ) -> Monthly {
        let runs = (0..window.months)
            .map(|_| {
                let mut v = Vec::with_capacity(capacity);
                v.extend_from_slice(HEADER);
                (v, 0)
            })
            .collect();
        Monthly {
            row: Binary::new(table, Vec::with_capacity(4096)),
            window,
            runs,
            scratch: Vec::new(),
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
            match self.window.slot(days) {
                Some(s) => {
                    // Move the row's beginning to its run and write the rest there.
                    let start = self.start;
                    let run = &mut self.runs[s].0;
                    run.extend_from_slice(&self.row.bytes_mut()[start..]);
                    self.row.bytes_mut().truncate(start);
                    std::mem::swap(self.row.bytes_mut(), run);
                    std::mem::swap(&mut self.scratch, run);
                    self.slot = Some(s);
                }
                None => self.slot = Some(usize::MAX),
            }
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
        match self.slot {
            Some(s) if s < self.runs.len() => {
                // Hand the run back and take the scratch buffer again.
                let run = &mut self.runs[s];
                std::mem::swap(&mut self.scratch, &mut run.0);
                std::mem::swap(self.row.bytes_mut(), &mut run.0);
                run.1 += 1;
            }
            _ => {
                self.outside += 1;
                let start = self.start;
                self.row.bytes_mut().truncate(start);
            }
        }
    }
    fn take(&mut self) -> Vec<u8> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::civil::days_from_civil;

    /// Rows sorted by month are byte for byte the rows Binary writes, in order.
    #[test]
    fn rows_go_to_their_month_whole() {
        use crate::table::{col, ColType::*};
        static T: TableSpec = TableSpec {
            name: "t",
            columns: &[col("id", BigInt), col("d", Date), col("s", Text)],
        };
        let w = std::sync::Arc::new(Window::new(days_from_civil(2024, 1, 1), 2));
        let mut m = Monthly::with_window(&T, w, 0);
        let mut plain: [Binary; 2] = [Binary::new(&T, Vec::new()), Binary::new(&T, Vec::new())];
        let days = [
            days_from_civil(2024, 2, 3),
            days_from_civil(2024, 1, 9),
            days_from_civil(2023, 12, 31),
            days_from_civil(2024, 2, 29),
        ];
        for (i, &d) in days.iter().enumerate() {
            m.begin();
            m.int(i as i64);
            m.date(d);
            m.text("x");
            m.end();
            if let Some(s) = Window::new(days_from_civil(2024, 1, 1), 2).slot(d) {
                let b = &mut plain[s];
                b.begin();
                b.int(i as i64);
                b.date(d);
                b.text("x");
                b.end();
            }
        }
        assert_eq!(m.outside, 1);
        for (s, b) in plain.iter_mut().enumerate() {
            let mut want = b.take();
            want.truncate(want.len() - 2);
            assert_eq!(m.runs[s].0, want, "month {s}");
        }
        assert_eq!((m.runs[0].1, m.runs[1].1), (1, 2));
    }

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
