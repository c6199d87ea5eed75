//! The output of a child process, line by line (the todo server and the
//! OpenID provider of the workspace tests).

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;

/// Takes `child`'s stdout and stderr and drains both on threads of their
/// own, so the child never blocks on a full pipe; each line, passed through
/// `map`, arrives on the returned channel.
///
/// # Panics
///
/// If `child` was not started with both stdout and stderr piped.
///
/// ```
/// use std::process::{Command, Stdio};
/// let mut child = Command::new("echo")
///     .arg("hello")
///     .stdout(Stdio::piped())
///     .stderr(Stdio::piped())
///     .spawn()
///     .unwrap();
/// let lines = auth_test_support::process::lines(&mut child, |l| l.to_uppercase());
/// assert_eq!(lines.recv().unwrap(), "HELLO");
/// child.wait().unwrap();
/// ```
pub fn lines(child: &mut Child, map: fn(&str) -> String) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(map(&line));
            }
        });
    }
    rx
}
