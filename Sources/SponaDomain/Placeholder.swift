enum PlaceholderSponaDomain {}
