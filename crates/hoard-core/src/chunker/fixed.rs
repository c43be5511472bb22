//! Fixed-size blocks after an optional header chunk (for disk images and the like).

#[derive(Clone)]
pub struct Fixed {
    block: usize,
    header: usize,
    /// True until the header chunk (if any) has been cut.
    at_header: bool,
}

impl Fixed {
    pub fn new(block_size: u32, header_size: u32) -> Self {
        Self {
            block: block_size as usize,
            header: header_size as usize,
            at_header: header_size > 0,
        }
    }

    pub fn max_size(&self) -> usize {
        self.block.max(self.header)
    }

    pub fn find_cut(&mut self, buf: &[u8], eof: bool) -> Option<usize> {
        let want = if self.at_header {
            self.header
        } else {
            self.block
        };
        let cut = if buf.len() >= want {
            Some(want)
        } else if eof && !buf.is_empty() {
            Some(buf.len())
        } else {
            None
        };
        if cut.is_some() {
            self.at_header = false;
        }
        cut
    }
}
