enum PlaceholderSponaBench {}
