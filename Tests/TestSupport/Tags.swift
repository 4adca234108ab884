import Testing

extension Tag {
    /// Tests that take more than a few seconds (child processes, whole runs, the bundled model): `make test-fast`
    /// leaves them out; `make test` and CI run them.
    @Tag public static var slow: Self
}
