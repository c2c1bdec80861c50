pub fn _seed() {}
