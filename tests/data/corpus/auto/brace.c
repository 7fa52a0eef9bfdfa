{
    int x = 1;   /* starts with a brace, but it is C, not JSON */
}
