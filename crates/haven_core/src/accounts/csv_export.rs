//! CSV downloads (accounts, invitations, who has signed what) that are safe
//! to open in a spreadsheet.
//!
//! Cells hold text people typed, so a name like `=HYPERLINK(...)` must not
//! become a formula when an admin opens the file (OWASP "CSV injection").

/// CSV text with a header row, safe to open in a spreadsheet: a cell starting with = + - @ TAB or CR is prefixed with a single quote (formula injection), quoting per RFC 4180, CRLF line ends.
///
/// No byte-order mark is written; whoever serves the file adds one if Excel
/// is to read it as UTF-8.
pub fn to_csv(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    write_row(&mut out, headers.iter().copied());
    for row in rows {
        write_row(&mut out, row.iter().map(String::as_str));
    }
    out
}

fn write_row<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_cell(out, cell);
    }
    out.push_str("\r\n");
}

fn write_cell(out: &mut String, cell: &str) {
    let defuse = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = cell.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if defuse {
        out.push('\'');
    }
    if quote {
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn a_header_and_rows_are_written_with_crlf_line_ends() {
        let csv = to_csv(
            &["Name", "Email"],
            &[row(&["Jo Bloggs", "jo@x.org"]), row(&["Sam", "sam@x.org"])],
        );
        assert_eq!(csv, "Name,Email\r\nJo Bloggs,jo@x.org\r\nSam,sam@x.org\r\n");
    }

    #[test]
    fn cells_with_commas_quotes_or_line_breaks_are_quoted() {
        let csv = to_csv(
            &["a"],
            &[row(&["Bloggs, Jo", "say \"hi\"", "two\nlines", ""])],
        );
        assert_eq!(
            csv,
            "a\r\n\"Bloggs, Jo\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n"
        );
    }

    #[test]
    fn formula_cells_are_prefixed_with_a_single_quote() {
        let csv = to_csv(
            &["=cmd"],
            &[row(&[
                "=HYPERLINK(\"http://evil\")",
                "+1",
                "-2",
                "@SUM(A1)",
                "\tx",
                "\rx",
                "a=b",
            ])],
        );
        assert_eq!(
            csv,
            "'=cmd\r\n\"'=HYPERLINK(\"\"http://evil\"\")\",'+1,'-2,'@SUM(A1),'\tx,\"'\rx\",a=b\r\n"
        );
    }

    #[test]
    fn written_csv_reads_back_with_the_csv_crate() {
        let rows = vec![row(&["Bloggs, \"Jo\"", "line\r\nbreak", "plain"])];
        let csv = to_csv(&["x", "y", "z"], &rows);
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let back: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(back, rows);
    }
}
