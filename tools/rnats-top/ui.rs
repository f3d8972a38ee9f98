//! The live view: ratatui on crossterm (plain terminal, keyboard only, so
//! it works over ssh). A poller thread fetches; the UI thread draws and
//! reads keys.

use std::io::IsTerminal;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style as TuiStyle};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};
use ratatui::Frame;

use crate::monitor::{Engine, Query, Snapshot};
use crate::sort::SortKey;
use crate::view::{header_lines, table, widths, Style};

enum Poll {
    Snap(Box<Snapshot>),
    Err(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PromptKind {
    Sort,
    Limit,
}

enum Mode {
    Top,
    Help,
    Prompt(PromptKind, String),
}

struct App {
    query: Arc<Mutex<Query>>,
    style: Style,
    delay: Duration,
    base: String,
    snapshot: Snapshot,
    error: Option<String>,
    mode: Mode,
    /// A passing message (e.g. an invalid sort key) and when it expires.
    flash: Option<(String, Instant)>,
}

const HELP: &str = "\
Command          Description

o<option>        Set primary sort key to <option>.

                 Option can be one of: {cid|start|subs|pending|msgs_to|msgs_from|
                 bytes_to|bytes_from|last|idle|uptime|rtt}

                 This can be set on the command line too with -sort.

n<limit>         Set sample size of connections to request from the server.

                 This can be set on the command line as well via -n.
                 Note that if used in conjunction with sort, the server
                 would respect both options allowing queries like 'connection
                 with largest number of subscriptions': -n 1 -sort subs

s                Toggle displaying connection subscriptions.

b                Toggle displaying raw byte and message counts.

q                Quit rnats-top.

Press any key to continue...";

/// Runs the live view until `q` (or `max_refreshes` polls).
pub fn run(
    mut engine: Engine,
    query: Query,
    delay: Duration,
    style: Style,
    max_refreshes: Option<u64>,
) -> Result<()> {
    if !std::io::stdout().is_terminal() {
        bail!("standard output is not a terminal: use --once (or -o FILE) for a text snapshot");
    }
    let base = engine.monitor.base().to_string();
    let query = Arc::new(Mutex::new(query));
    let (tx, rx) = mpsc::channel::<Poll>();
    let (wake_tx, wake_rx) = mpsc::channel::<()>();
    {
        let query = query.clone();
        std::thread::spawn(move || loop {
            let q = query.lock().map(|q| q.clone());
            let Ok(q) = q else { return };
            let msg = match engine.poll(&q) {
                Ok(s) => Poll::Snap(Box::new(s)),
                Err(e) => Poll::Err(format!("{e:#}")),
            };
            if tx.send(msg).is_err() {
                return;
            }
            match wake_rx.recv_timeout(delay) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {
                    // Collapse several wake-ups into one poll.
                    while wake_rx.try_recv().is_ok() {}
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        });
    }

    let mut app = App {
        query,
        style,
        delay,
        base,
        snapshot: Snapshot::default(),
        error: None,
        mode: Mode::Top,
        flash: None,
    };
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let result = (|| -> Result<()> {
        let mut polls = 0u64;
        loop {
            while let Ok(p) = rx.try_recv() {
                match p {
                    Poll::Snap(s) => {
                        app.snapshot = *s;
                        app.error = None;
                    }
                    Poll::Err(e) => app.error = Some(e),
                }
                polls += 1;
            }
            if app
                .flash
                .as_ref()
                .is_some_and(|(_, t)| Instant::now() >= *t)
            {
                app.flash = None;
            }
            terminal.draw(|f| draw(f, &app))?;
            if max_refreshes.is_some_and(|m| polls >= m) {
                return Ok(());
            }
            if event::poll(Duration::from_millis(100))? {
                if let Event::Key(k) = event::read()? {
                    if k.kind != KeyEventKind::Press {
                        continue;
                    }
                    let ctrl_c =
                        k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c');
                    if ctrl_c || (matches!(app.mode, Mode::Top) && k.code == KeyCode::Char('q')) {
                        return Ok(());
                    }
                    if app.key(k.code) {
                        let _ = wake_tx.send(());
                    }
                }
            }
        }
    })();
    ratatui::restore();
    result
}

impl App {
    /// Handles a key; true when the poll settings changed.
    fn key(&mut self, code: KeyCode) -> bool {
        match &mut self.mode {
            Mode::Help => {
                self.mode = Mode::Top;
                false
            }
            Mode::Prompt(kind, buf) => match code {
                KeyCode::Esc => {
                    self.mode = Mode::Top;
                    false
                }
                KeyCode::Backspace => {
                    buf.pop();
                    false
                }
                KeyCode::Char(c) => {
                    buf.push(c);
                    false
                }
                KeyCode::Enter => {
                    let kind = *kind;
                    let text = std::mem::take(buf);
                    self.mode = Mode::Top;
                    self.apply(kind, text.trim())
                }
                _ => false,
            },
            Mode::Top => match code {
                KeyCode::Char('s') => {
                    self.style.show_subs = !self.style.show_subs;
                    if let Ok(mut q) = self.query.lock() {
                        q.subs = self.style.show_subs;
                    }
                    true
                }
                KeyCode::Char('b') => {
                    self.style.raw = !self.style.raw;
                    false
                }
                KeyCode::Char('o') => {
                    self.mode = Mode::Prompt(PromptKind::Sort, String::new());
                    false
                }
                KeyCode::Char('n') => {
                    self.mode = Mode::Prompt(PromptKind::Limit, String::new());
                    false
                }
                KeyCode::Char('?') | KeyCode::Char('h') => {
                    self.mode = Mode::Help;
                    false
                }
                _ => false,
            },
        }
    }

    fn apply(&mut self, kind: PromptKind, text: &str) -> bool {
        if text.is_empty() {
            return false;
        }
        let changed = {
            let Ok(mut q) = self.query.lock() else {
                return false;
            };
            match kind {
                PromptKind::Sort => text.parse::<SortKey>().map(|k| q.sort = k).is_ok(),
                PromptKind::Limit => match text.parse::<usize>() {
                    Ok(n) if n > 0 => {
                        q.limit = n;
                        true
                    }
                    _ => false,
                },
            }
        };
        if !changed {
            self.flash(match kind {
                PromptKind::Sort => format!("invalid order: {text}"),
                PromptKind::Limit => format!("invalid limit: {text}"),
            });
        }
        changed
    }

    fn flash(&mut self, msg: String) {
        self.flash = Some((msg, Instant::now() + Duration::from_secs(2)));
    }

    fn status_line(&self) -> Line<'static> {
        let q = self.query.lock().map(|q| q.clone()).ok();
        match &self.mode {
            Mode::Prompt(PromptKind::Sort, buf) => Line::from(format!(
                "sort by [{}]: {buf}",
                q.map(|q| q.sort.name()).unwrap_or("cid")
            )),
            Mode::Prompt(PromptKind::Limit, buf) => Line::from(format!(
                "limit   [{}]: {buf}",
                q.map(|q| q.limit).unwrap_or(0)
            )),
            _ => match &self.flash {
                Some((m, _)) => Line::from(Span::styled(
                    m.clone(),
                    TuiStyle::default().fg(Color::Yellow),
                )),
                None => Line::from(Span::styled(
                    format!(
                        "{}  every {:.1}s  limit {}  |  q quit  s subs  o sort  n limit  b bytes  ? help",
                        self.base,
                        self.delay.as_secs_f64(),
                        q.map(|q| q.limit).unwrap_or(0)
                    ),
                    TuiStyle::default().add_modifier(Modifier::DIM),
                )),
            },
        }
    }
}

fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    if let Mode::Help = app.mode {
        f.render_widget(Paragraph::new(HELP), area);
        return;
    }
    let head = header_lines(&app.snapshot, app.style, None);
    let [top, mid, bottom] = Layout::vertical([
        Constraint::Length(head.len() as u16 + u16::from(app.error.is_some())),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);

    let mut lines: Vec<Line> = Vec::with_capacity(head.len() + 1);
    for (i, l) in head.into_iter().enumerate() {
        if i == 0 {
            lines.push(Line::from(Span::styled(
                l,
                TuiStyle::default().add_modifier(Modifier::BOLD),
            )));
        } else {
            lines.push(Line::from(l));
        }
    }
    if let Some(e) = &app.error {
        lines.insert(
            1,
            Line::from(Span::styled(
                format!(
                    "Error: {e} (retrying every {:.1}s)",
                    app.delay.as_secs_f64()
                ),
                TuiStyle::default()
                    .fg(Color::Red)
                    .add_modifier(Modifier::BOLD),
            )),
        );
    }
    f.render_widget(Paragraph::new(lines), top);

    let (titles, rows) = table(&app.snapshot, app.style);
    let w = widths(&titles, &rows);
    let constraints: Vec<Constraint> = w
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if app.style.show_subs && i == titles.len() - 1 {
                Constraint::Min(13)
            } else {
                Constraint::Length(*w as u16)
            }
        })
        .collect();
    let header = Row::new(titles.iter().map(|t| t.to_string()))
        .style(TuiStyle::default().add_modifier(Modifier::REVERSED));
    let table = Table::new(rows.into_iter().map(Row::new), constraints)
        .header(header)
        .column_spacing(2);
    f.render_widget(table, mid);
    f.render_widget(Paragraph::new(app.status_line()), bottom);
}
