//! The output of a child process, line by line, shared by the helpers that
//! start the todo server and the OpenID provider.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;

/// Takes `child`'s stdout and stderr and drains both on threads of their
/// own, so the child never blocks on a full pipe; each line, passed through
/// `map`, arrives on the returned channel.
pub(crate) fn lines(child: &mut Child, map: fn(&str) -> String) -> mpsc::Receiver<String> {
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
